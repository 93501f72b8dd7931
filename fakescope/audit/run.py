"""`fakescope audit`: how accurate are detectors really, side by side, with intervals.

Flow: ``load_items`` (fakescope.audit.items) reads test-set manifests or any user CSV with
``path,label`` and turns bad rows into ``AuditRowError`` records instead of stopping;
``run_audit`` scores every item with every scorer (a callable ``Path -> ItemScore``; models live
elsewhere), caches each score by file hash so adding one detector later only runs that
detector, then writes ``metrics.json``, ``scores.csv``, PNG figures and a self-contained
``report.html``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fakescope import __version__
from fakescope.audit.items import ROBUSTNESS_KEYS, AuditRowError, Item, attack_info, load_items, perturbations
from fakescope.audit.report import render_report
from fakescope.audit.scores import ItemScore, Scorer, item_score_from_verdict
from fakescope.audit.summary import DEFINITIONS, recorded_attacks, scorer_metrics
from fakescope.core.atomicio import write_json_atomic, write_text_atomic

__all__ = [
    "AuditResult",
    "AuditRowError",
    "Item",
    "ItemScore",
    "Scorer",
    "attack_info",
    "audit",
    "item_score_from_verdict",
    "load_items",
    "perturbations",
    "run_audit",
]

CACHE_VERSION = 1

# ----------------------------------------------------------------------------- scoring


def _safe_name(name: str) -> str:
    """Directory name for a scorer; a short hash keeps distinct names distinct after cleaning."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "scorer"
    if clean != name:
        clean += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return clean[:80]


def _cache_key(scorer: Scorer) -> str | None:
    """Optional ``cache_key`` attribute (e.g. weights hash): a changed model must not reuse old scores."""
    key = getattr(scorer, "cache_key", None)
    return None if key is None else str(key)


def _load_cached(path: Path, name: str, key: str | None) -> ItemScore | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        if d.get("version") != CACHE_VERSION or d.get("scorer") != name or d.get("cache_key") != key:
            return None
        return ItemScore.from_json(d["score"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable or stale cache entries are simply rescored


@dataclass(frozen=True)
class _Outcome:
    scores: dict[int, ItemScore]  # item index -> score
    failures: list[dict[str, str]]
    n_cached: int
    n_scored: int


def _score_all(items: Sequence[Item], name: str, scorer: Scorer, cache_dir: Path, progress: bool) -> _Outcome:
    from tqdm.auto import tqdm

    key = _cache_key(scorer)
    cache_dir.mkdir(parents=True, exist_ok=True)
    scores: dict[int, ItemScore] = {}
    failures: list[dict[str, str]] = []
    n_cached = n_scored = 0
    bar = tqdm(list(enumerate(items)), desc=f"audit {name}", unit="video", disable=not progress, leave=False)
    for idx, item in bar:
        cpath = cache_dir / f"{item.sha256}.json"
        cached = _load_cached(cpath, name, key)
        if cached is not None:
            scores[idx] = cached
            n_cached += 1
            continue
        try:
            result = scorer(item.path)
            if not isinstance(result, ItemScore):
                raise TypeError(f"scorer returned {type(result).__name__}, expected ItemScore")
        except Exception as exc:  # one bad item must not stop the audit; it is reported instead
            failures.append({"path": str(item.path), "sha256": item.sha256, "error": f"{type(exc).__name__}: {exc}"})
            continue
        scores[idx] = result
        n_scored += 1
        write_json_atomic(cpath, {"version": CACHE_VERSION, "scorer": name, "cache_key": key,
                                  "sha256": item.sha256, "score": result.as_json()}, indent=None)
        bar.set_postfix(cached=n_cached, scored=n_scored, failed=len(failures))
    return _Outcome(scores, failures, n_cached, n_scored)


# ----------------------------------------------------------------------------- output


@dataclass(frozen=True)
class AuditResult:
    out_dir: Path
    metrics_path: Path
    report_path: Path
    scores_path: Path
    plots: dict[str, Path] = field(hash=False, compare=False)
    metrics: dict[str, Any] = field(hash=False, compare=False, repr=False)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def audit(sources: Sequence[str | Path], scorers: Mapping[str, Scorer], out_dir: str | Path,
          **kwargs: Any) -> AuditResult:
    """``load_items`` + ``run_audit`` with the row errors listed in the report (what the CLI runs)."""
    items, errors = load_items(sources)
    return run_audit(items, scorers, out_dir, row_errors=errors, sources=sources, **kwargs)


def run_audit(items: Sequence[Item], scorers: Mapping[str, Scorer], out_dir: str | Path, n_boot: int = 1000,
              seed: int = 0, progress: bool = True, row_errors: Iterable[AuditRowError] = (),
              sources: Sequence[str | Path] = (), plots: bool = True) -> AuditResult:
    """Score ``items`` with each scorer (cached by file hash) and write metrics.json, PNGs, report.html.

    A scorer that raises on one item gets that item recorded under ``failures`` and excluded
    from its metrics; the audit goes on. ``row_errors`` (from ``load_items``) are listed in
    metrics.json and the report so a user sees which rows were skipped and why: errors under
    ``row_errors``, notes (a repeated video audited once) under ``row_notes``. ``plots=False`` skips the PNGs
    (rendering is most of the run time of a re-audit from cache).
    """
    if not scorers:
        raise ValueError("run_audit needs at least one scorer (name -> callable(Path) -> ItemScore)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    row_errors = list(row_errors)
    skipped = [e for e in row_errors if e.severity != "note"]
    notes = [e for e in row_errors if e.severity == "note"]

    attack_items = {i: a for i, it in enumerate(items) if it.y == 1 and (a := attack_info(it)) is not None}
    pair_index: dict[str, int] = {}
    for i, it in enumerate(items):
        pair_index.setdefault(it.sha256, i)
        pair_index.setdefault(str(it.path), i)
    # relative pair paths in params are relative to their own CSV
    for info_i, info in attack_items.items():
        pair = info["pair"]
        if pair and pair not in pair_index and items[info_i].source:
            cand = (Path(items[info_i].source).resolve().parent / pair).resolve()
            if str(cand) in pair_index:
                info["pair"] = str(cand)

    outcomes: dict[str, _Outcome] = {}
    for name, scorer in scorers.items():
        outcomes[name] = _score_all(items, name, scorer, out / "cache" / _safe_name(name), progress)

    per_scorer: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    for name, oc in outcomes.items():
        m = scorer_metrics(items, oc.scores, n_boot, seed, attack_items, pair_index, name)
        per_scorer[name] = {**m, "n_failed": len(oc.failures), "n_cached": oc.n_cached,
                            "n_newly_scored": oc.n_scored, "failures": oc.failures}
        thresholds[name] = m["threshold"]

    ys = np.array([it.y for it in items], dtype=np.int64)
    result: dict[str, Any] = {
        "fakescope_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "sources": [str(s) for s in sources],
        "n_items": len(items), "n_real": int((ys == 0).sum()), "n_fake": int((ys == 1).sum()),
        # rows left out of the audit, and rows skipped without loss (a repeated video counted once)
        "n_row_errors": len(skipped),
        "row_errors": [e.as_json() for e in skipped],
        "n_row_notes": len(notes),
        "row_notes": [e.as_json() for e in notes],
        "bootstrap": {"n_boot": n_boot, "seed": seed, "alpha": 0.05,
                      "method": "percentile, stratified by class; frame level resamples whole videos"},
        "definitions": DEFINITIONS,
        "attacks_recorded_at_build": recorded_attacks(attack_items),
        "scorers": per_scorer,
    }

    figs = _write_plots(items, outcomes, per_scorer, thresholds, out) if plots else {}
    result["plots"] = {k: p.name for k, p in figs.items()}
    result = _jsonable(result)
    metrics_path = write_json_atomic(out / "metrics.json", result)
    scores_path = _write_scores_csv(items, outcomes, out / "scores.csv")
    report_path = write_text_atomic(out / "report.html", render_report(result, figs))
    return AuditResult(out_dir=out, metrics_path=metrics_path, report_path=report_path, scores_path=scores_path,
                       plots=figs, metrics=result)




def _write_plots(items: Sequence[Item], outcomes: Mapping[str, _Outcome], per_scorer: Mapping[str, Any],
                 thresholds: Mapping[str, float], out: Path) -> dict[str, Path]:
    from fakescope.report import plots as P

    video_series = {}
    frame_series = {}
    for name, oc in outcomes.items():
        if not oc.scores:
            continue
        keys = sorted(oc.scores)
        video_series[name] = (np.array([items[i].y for i in keys]), np.array([oc.scores[i].video_score for i in keys]))
        fy = [items[i].y for i in keys for _ in oc.scores[i].frame_scores]
        fs = [p for i in keys for _, p in oc.scores[i].frame_scores]
        if fy:
            frame_series[name] = (np.array(fy), np.array(fs))
    written: dict[str, Path] = {}
    if not video_series:
        return written
    written["roc"] = P.roc_plot(video_series, out / "roc.png", title="ROC, video level")
    written["pr"] = P.pr_plot(video_series, out / "pr.png", title="Precision-recall, video level")
    written["reliability"] = P.reliability_plot(video_series, out / "reliability.png",
                                                title="Reliability, video level")
    written["histograms"] = P.score_histograms(video_series, out / "histograms.png", thresholds=thresholds,
                                               title="Video scores per class")
    if frame_series:
        written["frame_roc"] = P.roc_plot(frame_series, out / "frame_roc.png", title="ROC, frame level")
    for key in ROBUSTNESS_KEYS:
        curves = {n: [(p[0], p[1]) for p in m["robustness"][key]["points"]]
                  for n, m in per_scorer.items() if key in m["robustness"]}
        if curves:
            base = {n: m["robustness"][key]["unperturbed_auc"] for n, m in per_scorer.items() if key in m["robustness"]}
            written[f"robustness_{key}"] = P.robustness_plot(key, curves, out / f"robustness_{key}.png", baselines=base)
    return written


def _write_scores_csv(items: Sequence[Item], outcomes: Mapping[str, _Outcome], path: Path) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    names = list(outcomes)
    w.writerow(["path", "label", "method", "identity", "split", "sha256"]
               + [c for n in names for c in (f"{n}:score", f"{n}:status")])
    for i, it in enumerate(items):
        row = [str(it.path), it.label, it.method, it.identity, it.split, it.sha256]
        for n in names:
            sc = outcomes[n].scores.get(i)
            row += [f"{sc.video_score:.6f}", sc.status] if sc else ["", "failed"]
        w.writerow(row)
    return write_text_atomic(path, buf.getvalue())
