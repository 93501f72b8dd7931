"""Audit page: how accurate are the detectors on labelled videos, with intervals and plots.

Runs exactly what ``fakescope audit`` runs (fakescope.audit.run.load_items + run_audit with the
scorers of fakescope.audit.scorers.build_scorers) and lays out its metrics.json and PNGs.
Sources are test-set folders found in the workspace or $FAKESCOPE_DATA_DIR, paths typed in, or
an uploaded CSV with path,label columns whose relative paths are resolved against a folder the
user names (an upload has no folder of its own).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from dashboards.common import (
    Settings,
    UploadRejected,
    find_dirs_with,
    lines,
    new_output_dir,
    private_upload,
    search_roots,
    shipped_detectors,
)

_STATE = "audit_result"
PLOT_ORDER = ("roc", "pr", "reliability", "histograms", "frame_roc")


@dataclass
class _Counting:
    """Wraps a scorer to move the progress bar; keeps ``cache_key`` so run_audit's cache still works."""

    scorer: Any
    tick: Any

    @property
    def cache_key(self) -> str | None:
        return getattr(self.scorer, "cache_key", None)

    def __call__(self, path: Path) -> Any:
        try:
            return self.scorer(path)
        finally:
            self.tick()


def absolutise_csv(path: Path, base: Path) -> None:
    """Rewrite an uploaded CSV in place so relative ``path`` cells point into ``base``.

    Parsed with the manifest reader the audit uses, so delimiters, BOMs and header spellings are handled alike.
    """
    from fakescope.core.manifest import read_rows

    header, rows = read_rows(path)
    if "path" not in header:
        return  # load_items reports the missing column with its own message
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    w.writeheader()
    for _, row in rows:
        if row.get("path") and not Path(row["path"]).is_absolute():
            row["path"] = str(base / row["path"])
        w.writerow(row)
    path.write_text(out.getvalue(), encoding="utf-8")


def metrics_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per scorer: the video-level numbers of metrics.json with their 95% intervals."""

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    def ci(block: dict[str, Any], key: str) -> str:
        c = (block.get("ci") or {}).get(key)
        return "-" if not c or c[0] is None else f"[{c[0]:.3f}, {c[1]:.3f}]"

    rows = []
    for name, m in metrics["scorers"].items():
        v = m.get("video") or {}
        rows.append({"scorer": name, "videos": v.get("n"), "AUC": num(v.get("auc")), "AUC 95% CI": ci(v, "auc"),
                     "AP": num(v.get("ap")), "EER": num(v.get("eer")), "accuracy": num(v.get("accuracy")),
                     "TPR @ 1% FPR": num(v.get("tpr_at_1pct_fpr")), "Brier": num(v.get("brier")),
                     "ECE": num(v.get("ece")), "threshold": num(m.get("threshold")),
                     "failed": m.get("n_failed"), "insufficient": m.get("n_insufficient")})
    return rows


def run(sources: list[Path], detectors: list[str], with_analyzers: bool, n_boot: int) -> Any:
    from fakescope.audit.run import load_items, run_audit
    from fakescope.audit.scorers import build_scorers

    items, errors = load_items(sources)
    if not items:
        raise ValueError("no usable labelled videos in the chosen sources"
                         + (": " + "; ".join(str(e) for e in errors[:5]) if errors else ""))
    scorers = build_scorers(detectors, include_analyzers=with_analyzers)
    total = len(items) * len(scorers)
    bar = st.progress(0.0, text=f"Scoring {len(items)} videos with {len(scorers)} scorers...")
    done = [0]

    def tick() -> None:
        done[0] += 1
        bar.progress(min(done[0] / total, 1.0), text=f"Scored {done[0]} of {total} (video, scorer) pairs")

    wrapped = {name: _Counting(s, tick) for name, s in scorers.items()}
    result = run_audit(items, wrapped, new_output_dir("audits"), n_boot=n_boot, progress=False,
                       row_errors=errors, sources=[str(s) for s in sources])
    bar.empty()
    return result


def show(result: Any, names: dict[str, str]) -> None:
    """``names`` maps temp paths of uploaded CSVs to what the user called them, for the skipped-row list."""
    m = result.metrics
    st.success(f"Audited {m['n_items']} videos ({m['n_real']} real, {m['n_fake']} fake); "
               f"{m['bootstrap']['n_boot']} bootstrap resamples. Saved in {result.out_dir}")
    st.dataframe(metrics_rows(m), hide_index=True)
    if m["row_errors"]:
        st.warning(f"{len(m['row_errors'])} CSV rows were skipped:")
        st.dataframe([dict(e, source=names.get(e["source"], e["source"])) for e in m["row_errors"]],
                     hide_index=True)
    c1, c2 = st.columns(2)
    c1.download_button("Download the audit report (HTML)", result.report_path.read_text(encoding="utf-8"),
                       file_name="fakescope-audit.html", mime="text/html")
    c2.download_button("Download metrics.json", json.dumps(m, indent=2), file_name="metrics.json",
                       mime="application/json")
    names = [k for k in PLOT_ORDER if k in result.plots] + sorted(k for k in result.plots if k not in PLOT_ORDER)
    cols = st.columns(2)
    for k, name in enumerate(names):
        cols[k % 2].image(str(result.plots[name]), caption=name.replace("_", " "))


def render(settings: Settings) -> None:
    st.title("Audit: how accurate are the detectors?")
    st.write("Scores labelled videos with each detector (and the blink, edge and spectrum analyzers and the fused "
             "verdict), then reports AUC, AP, EER, calibration and bootstrap intervals, as `fakescope audit` does.")
    found = find_dirs_with("manifest.csv", search_roots())
    chosen = st.multiselect("Test sets found in the workspace", [str(p) for p in found], key="audit_sets")
    typed = st.text_area("More test-set folders or CSV files (one per line)", key="audit_paths")
    upload = st.file_uploader("Or upload a CSV with path,label columns", type=["csv"], key="audit_csv")
    base = st.text_input("Relative paths in the uploaded CSV are relative to this folder", value=str(Path.cwd()),
                         key="audit_base")
    models = shipped_detectors() or ["default"]
    detectors = st.multiselect("Detectors", models, default=models[:1], key="audit_detectors")
    extra = st.text_input("Other trained model folders (comma separated)", key="audit_model_dirs")
    with_analyzers = st.checkbox("Also audit blink, edges, spectrum and the fused verdict", value=True,
                                 key="audit_analyzers")
    n_boot = int(st.number_input("Bootstrap resamples", min_value=0, max_value=5000, value=1000, step=100,
                                 key="audit_n_boot"))
    if st.button("Run the audit", type="primary", key="audit_run"):
        st.session_state.pop(_STATE, None)
        detectors = list(detectors) + [d.strip() for d in extra.split(",") if d.strip()]
        sources = [Path(p) for p in chosen] + [Path(p) for p in lines(typed)]
        try:
            if not detectors:
                raise ValueError("pick at least one detector")
            if upload is not None:
                with private_upload(upload, settings.max_upload_bytes, frozenset({".csv"})) as path:
                    absolutise_csv(path, Path(base).expanduser())
                    result = run(sources + [path], detectors, with_analyzers, n_boot)
                    st.session_state[_STATE] = (result, {str(path): f"uploaded {upload.name}"})
            elif not sources:
                raise ValueError("pick a test set, type a folder or CSV path, or upload a CSV")
            else:
                st.session_state[_STATE] = (run(sources, detectors, with_analyzers, n_boot), {})
        except UploadRejected as exc:
            st.error(str(exc))
        except UnicodeDecodeError:
            st.error(f"{upload.name if upload else 'the CSV'} is not a UTF-8 text CSV.")
        except ValueError as exc:
            st.error(f"The audit could not run: {exc}.")
    if (kept := st.session_state.get(_STATE)) is not None:
        show(*kept)
