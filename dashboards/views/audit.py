"""Audit page: how accurate are the detectors on labelled videos, with intervals and plots.

Runs exactly what ``fakescope audit`` runs (fakescope.audit.run.load_items + run_audit with the
scorers of fakescope.audit.scorers.build_scorers) and lays out its metrics.json and PNGs.
Sources are test-set folders found in the workspace or $FAKESCOPE_DATA_DIR, or an uploaded CSV
with path,label columns whose relative paths are resolved against a folder picked from those
roots (an upload has no folder of its own). No server path is typed in: every source, model folder
and uploaded-CSV row must resolve inside the roots (``inside_roots``), else it is refused before
anything is read.
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
    MODEL_FILE,
    PathRefused,
    Settings,
    UploadRejected,
    allowed_dirs_with,
    data_folders,
    inside_roots,
    new_output_dir,
    plain,
    private_upload,
    search_roots,
    shipped_detectors,
)

_STATE = "audit_result"
PLOT_ORDER = ("roc", "pr", "reliability", "histograms", "frame_roc")
OUTSIDE = "outside the folders this dashboard may read (its workspace and $FAKESCOPE_DATA_DIR)"


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


@dataclass(frozen=True)
class ConfinedCSV:
    """An uploaded CSV rewritten by ``confine_csv``; line numbers are those of the rewritten file."""

    path: Path
    name: str  # what the user called the upload
    lines: dict[int, int]  # rewritten line -> line in the upload
    refused: dict[int, str]  # rewritten line -> the path cell as uploaded, for rows pointing outside the roots


def confine_csv(path: Path, base: Path, name: str, roots: list[Path] | None = None) -> ConfinedCSV:
    """Rewrite an uploaded CSV in place: relative ``path`` cells are resolved against ``base``, and
    cells that lead outside the roots are emptied (reported as refused, never looked up: whether such
    a file exists is none of the visitor's business).

    Parsed with the manifest reader the audit uses, so delimiters, BOMs and header spellings are handled alike.
    """
    from fakescope.core.manifest import read_rows

    header, rows = read_rows(path)
    if "path" not in header:
        return ConfinedCSV(path, name, {}, {})  # load_items reports the missing column with its own message
    roots = search_roots() if roots is None else roots
    refused: dict[int, str] = {}
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    w.writeheader()
    for k, (_, row) in enumerate(rows):
        if raw := row.get("path"):
            try:
                target = Path(raw).expanduser()
                row["path"] = str(inside_roots(target if target.is_absolute() else base / target, roots))
            except (PathRefused, RuntimeError, ValueError):
                refused[k] = raw
                row["path"] = ""
        w.writerow(row)
    path.write_text(out.getvalue(), encoding="utf-8")
    new_lines = [line for line, _ in read_rows(path)[1]]
    if len(new_lines) != len(rows):  # cannot happen with csv round trips; keep the rewritten numbers
        new_lines = [line for line, _ in rows]
    return ConfinedCSV(path, name, {new: old for new, (old, _) in zip(new_lines, rows, strict=True)},
                       {new_lines[k]: raw for k, raw in refused.items()})


def upload_errors(errors: list[Any], upload: ConfinedCSV | None) -> list[Any]:
    """load_items' row errors with an uploaded CSV's rows named as the user knows them: its name,
    its own line numbers, and the refusal for rows that pointed outside the roots."""
    if upload is None:
        return list(errors)
    from fakescope.audit.items import AuditRowError

    out = []
    for e in errors:
        if e.source != str(upload.path):
            out.append(e)
        elif e.row_number in upload.refused:
            out.append(AuditRowError(f"uploaded {upload.name}", upload.lines.get(e.row_number, e.row_number),
                                     upload.refused[e.row_number], OUTSIDE))
        else:
            out.append(AuditRowError(f"uploaded {upload.name}", upload.lines.get(e.row_number, e.row_number),
                                     e.path, e.reason))
    return out


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


def allowed_detector(name: str) -> str:
    """A shipped model's name, or a model folder inside the roots (resolved); else PathRefused."""
    if name in shipped_detectors():
        return name
    return str(inside_roots(name))


def run(sources: list[Path], detectors: list[str], with_analyzers: bool, n_boot: int,
        upload: ConfinedCSV | None = None) -> Any:
    """Audit ``sources`` (each must resolve inside the roots) and an uploaded CSV made by ``confine_csv``.

    Raises PathRefused before anything is read or written when a source or model folder lies outside."""
    from fakescope.audit.run import load_items, run_audit
    from fakescope.audit.scorers import build_scorers

    checked = [inside_roots(s) for s in sources]
    detectors = [allowed_detector(d) for d in detectors]
    if not detectors:
        raise ValueError("pick at least one detector")
    if upload is not None:
        checked.append(upload.path)  # in the private upload folder; its rows were confined by confine_csv
    if not checked:
        raise ValueError("pick a test set or upload a CSV")
    items, errors = load_items(checked)
    errors = upload_errors(errors, upload)
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
    shown_sources = [str(s) for s in checked if upload is None or s != upload.path]
    if upload is not None:
        shown_sources.append(f"uploaded {upload.name}")
    result = run_audit(items, wrapped, new_output_dir("audits"), n_boot=n_boot, progress=False,
                       row_errors=errors, sources=shown_sources)
    bar.empty()
    return result


def show(result: Any) -> None:
    m = result.metrics
    st.success(plain(f"Audited {m['n_items']} videos ({m['n_real']} real, {m['n_fake']} fake); "
                     f"{m['bootstrap']['n_boot']} bootstrap resamples. Saved in {result.out_dir}"))
    st.dataframe(metrics_rows(m), hide_index=True)
    if m["row_errors"]:
        st.warning(f"{len(m['row_errors'])} CSV rows were skipped:")
        st.dataframe(m["row_errors"], hide_index=True)  # table cells are plain text
    c1, c2 = st.columns(2)
    c1.download_button("Download the audit report (HTML)", result.report_path.read_text(encoding="utf-8"),
                       file_name="fakescope-audit.html", mime="text/html")
    c2.download_button("Download metrics.json", json.dumps(m, indent=2), file_name="metrics.json",
                       mime="application/json")
    names = [k for k in PLOT_ORDER if k in result.plots] + sorted(k for k in result.plots if k not in PLOT_ORDER)
    cols = st.columns(2)
    for k, name in enumerate(names):
        cols[k % 2].image(str(result.plots[name]), caption=plain(name.replace("_", " ")))


def render(settings: Settings) -> None:
    st.title("Audit: how accurate are the detectors?")
    st.write("Scores labelled videos with each detector (and the blink, edge and spectrum analyzers and the fused "
             "verdict), then reports AUC, AP, EER, calibration and bootstrap intervals, as `fakescope audit` does.")
    found = [str(p) for p in allowed_dirs_with("manifest.csv")]
    chosen = st.multiselect("Test sets found in the workspace and $FAKESCOPE_DATA_DIR", found, key="audit_sets",
                            placeholder="test sets found" if found else "no test set found: build one on the "
                                                                          "Generate page")
    upload = st.file_uploader("Or upload a CSV with path,label columns", type=["csv"], key="audit_csv",
                              max_upload_size=settings.max_upload_mb)
    folders = [str(p) for p in data_folders()]
    base = st.selectbox("Relative paths in the uploaded CSV are relative to this folder", folders, key="audit_base",
                        help="Folders in the workspace and $FAKESCOPE_DATA_DIR. Rows whose file lies outside "
                             "them are skipped.")
    models = shipped_detectors() or ["default"]
    detectors = st.multiselect("Detectors", models, default=models[:1], key="audit_detectors")
    trained = [str(p) for p in allowed_dirs_with(MODEL_FILE)]
    extra = st.multiselect("Other trained model folders", trained, key="audit_model_dirs",
                           placeholder="model folders found" if trained else "none found in the workspace or "
                                                                              "$FAKESCOPE_DATA_DIR")
    with_analyzers = st.checkbox("Also audit blink, edges, spectrum and the fused verdict", value=True,
                                 key="audit_analyzers")
    n_boot = int(st.number_input("Bootstrap resamples", min_value=0, max_value=5000, value=1000, step=100,
                                 key="audit_n_boot"))
    if st.button("Run the audit", type="primary", key="audit_run"):
        st.session_state.pop(_STATE, None)
        detectors = list(detectors) + list(extra)
        sources = [Path(p) for p in chosen]
        try:
            if not detectors:
                raise ValueError("pick at least one detector")
            if upload is not None:
                if base is None:
                    raise ValueError("there is no folder for the uploaded CSV's paths: set FAKESCOPE_DATA_DIR "
                                     "to the folder that holds the videos")
                with private_upload(upload, settings.max_upload_bytes, frozenset({".csv"})) as path:
                    confined = confine_csv(path, inside_roots(base), upload.name)
                    st.session_state[_STATE] = run(sources, detectors, with_analyzers, n_boot, confined)
            elif not sources:
                raise ValueError("pick a test set or upload a CSV")
            else:
                st.session_state[_STATE] = run(sources, detectors, with_analyzers, n_boot)
        except UploadRejected as exc:
            st.error(plain(exc))
        except UnicodeDecodeError:
            st.error(plain(f"{upload.name if upload else 'the CSV'} is not a UTF-8 text CSV."))
        except ValueError as exc:  # PathRefused included: nothing was read
            st.error(plain(f"The audit could not run: {exc}."))
    if (kept := st.session_state.get(_STATE)) is not None:
        show(kept)
