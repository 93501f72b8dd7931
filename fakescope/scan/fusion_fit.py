"""Fit the fusion model on the validation split of a test set.

    fakescope fusion fit --data TESTSET_DIR [--split val] [--holdout] [--detector MODEL_DIR]
        [--out detector/weights/default/fusion.json]

That command calls :func:`fit_fusion_on_testset`.

``--holdout`` fits on the validation identities the detector never saw (a detector trained with
``--fusion-holdout``; see fakescope.core.splits), which is how the shipped fusion is fitted. Each
validation video is scanned once with every analyzer; the fused probability is a logistic
regression over the analyzers' logits (no intercept per analyzer, see fakescope.scan.fusion). The
fit uses scikit-learn and is stored as plain JSON (never pickled).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core.atomicio import write_json_atomic
from fakescope.core.types import Evidence
from fakescope.scan.fusion import FusionModel, fusion_path

FUSED_ANALYZERS = ("detector", "edges", "spectrum", "blink", "temporal")


def evidence_from_record(record: dict[str, Any]) -> list[Evidence]:
    out = []
    for name, a in (record.get("analyzers") or {}).items():
        if isinstance(a, dict) and "score" in a:
            out.append(Evidence(name, float(a["score"]), a.get("status", "insufficient")))
    return out


def fit_fusion(evidence: Sequence[Sequence[Evidence]], y: Sequence[int], analyzers: Sequence[str] = FUSED_ANALYZERS,
               c: float = 1.0, meta: dict[str, Any] | None = None) -> FusionModel:
    from sklearn.linear_model import LogisticRegression

    y_arr = np.asarray(y, int)
    if len(set(y_arr.tolist())) < 2:
        raise ValueError("fusion needs both real and fake validation videos; build a larger test set")
    template = FusionModel(tuple(analyzers), (0.0,) * len(analyzers), 0.0, {})
    x = np.asarray([template.features(ev) for ev in evidence], float)
    # Analyzers whose fitted weight comes out negative are dropped and the rest refitted: a
    # fused score must never rise because one analyzer became more confident the video is real.
    keep = list(range(len(analyzers)))
    while True:
        # Balanced classes: our test sets hold four fakes per real, which is no prior for a
        # video a user hands in; a 50/50 prior keeps the verdict from leaning to fake by default.
        lr = LogisticRegression(C=c, max_iter=1000, class_weight="balanced").fit(x[:, keep], y_arr)
        w = lr.coef_[0]
        if (w >= 0).all() or len(keep) == 1:
            break
        keep.pop(int(np.argmin(w)))
    coef = [0.0] * len(analyzers)
    for k, v in zip(keep, w, strict=True):
        coef[k] = max(float(v), 0.0)
    return FusionModel(tuple(analyzers), tuple(coef), float(lr.intercept_[0]), dict(meta or {}, n=len(y_arr)))


def _grouped_cv_auc(x_ev: Sequence[Sequence[Evidence]], y: np.ndarray, groups: Sequence[str],
                    analyzers: Sequence[str], c: float) -> float:
    """Pooled out-of-fold AUC of a fusion over ``analyzers``, leaving one identity group out at a time."""
    from sklearn.metrics import roc_auc_score

    g = np.asarray(groups)
    oof = np.full(len(y), np.nan)
    for held in np.unique(g):
        train = g != held
        if len(set(y[train].tolist())) < 2:
            continue
        model = fit_fusion([x_ev[i] for i in np.flatnonzero(train)], y[train], analyzers, c)
        for i in np.flatnonzero(~train):
            oof[i] = model.predict(x_ev[i])
    ok = ~np.isnan(oof)
    return float(roc_auc_score(y[ok], oof[ok])) if len(set(y[ok].tolist())) == 2 else float("nan")


def select_fusion(evidence: Sequence[Sequence[Evidence]], y: Sequence[int], groups: Sequence[str],
                  analyzers: Sequence[str] = FUSED_ANALYZERS, c: float = 1.0, tolerance: float = 0.005,
                  meta: dict[str, Any] | None = None) -> tuple[FusionModel, dict[str, float]]:
    """Choose which analyzers the fusion weighs by identity-grouped cross-validation, then fit.

    Why: a few dozen fitting videos cannot tell a strong analyzer from one that merely looks
    strong on these identities, and a linear fusion that trusts a noisy analyzer can score below
    the best single one. Every subset of analyzers is scored by leave-one-identity-out AUC; the
    smallest subset within ``tolerance`` of the best wins (the simplest fusion the data supports).
    """
    from itertools import combinations

    y_arr = np.asarray(y, int)
    scores: dict[str, float] = {}
    for k in range(1, len(analyzers) + 1):
        for subset in combinations(analyzers, k):
            scores["+".join(subset)] = _grouped_cv_auc(evidence, y_arr, groups, subset, c)
    best = max(v for v in scores.values() if v == v)
    chosen = min((s for s, v in scores.items() if v == v and v >= best - tolerance),
                 key=lambda s: (s.count("+"), -scores[s]))
    model = fit_fusion(evidence, y_arr, [a for a in analyzers if a in chosen.split("+")], c, meta)
    full = FusionModel(tuple(analyzers), tuple(dict(zip(model.analyzers, model.coef, strict=True)).get(a, 0.0)
                                               for a in analyzers), model.intercept,
                       dict(model.meta, selection={"chosen": chosen, "cv_auc": scores}))
    return full, scores


@dataclass(frozen=True)
class FusionFit:
    """What :func:`fit_fusion_on_testset` fitted and wrote."""

    model: FusionModel
    scores: dict[str, float]  # leave-one-identity-out AUC of every analyzer subset ("detector+edges")
    videos: int  # videos fitted on
    out: Path  # where the model was written


def fit_fusion_on_testset(data: Path, split: str = "val", holdout: bool = False, detector: str = "default",
                          out: Path | None = None, progress: bool = True) -> FusionFit:
    """Scan every video of ``split`` in the test set ``data`` (only the fusion hold-out identities
    with ``holdout``, see fakescope.core.splits), choose and fit the fusion (:func:`select_fusion`)
    and write it to ``out`` (default: the shipped fusion beside the default detector).

    Raises ValueError (or FileNotFoundError for a listed video that is missing) before any scan when
    the split cannot be fitted on; ``out`` is written only at the end (atomically), so a failure
    leaves it as it was.
    """
    from tqdm import tqdm

    from fakescope.core.manifest import manifest_path, read_manifest
    from fakescope.core.splits import holdout_of_rows
    from fakescope.scan.pipeline import ScanConfig, scan_video

    data = Path(data)
    out = fusion_path() if out is None else Path(out)
    if not data.is_dir():
        raise ValueError(f"{data}: no such test-set directory; pass --data DIR made by 'fakescope testset build'")
    all_rows = read_manifest(data, require=("path", "label", "split"))
    rows = [r for r in all_rows if r.get("split") == split]
    where = f"the {split!r} split of {data}"
    if holdout:
        held = holdout_of_rows(all_rows)
        rows = [r for r in rows if r.get("identity", "") in held]
        where = f"the fusion hold-out identities of {where}"
    if not rows:
        present = sorted({r.get("split", "") for r in all_rows} - {""})
        raise ValueError(f"no videos to fit on in {where}; splits in its manifest: {', '.join(present) or 'none'} "
                         "(choose one with --split)")
    labels = {r["label"] for r in rows}
    if not {"real", "fake"} <= labels:
        raise ValueError(f"only {', '.join(sorted(labels))} videos in {where}; the fusion needs both real and fake "
                         "ones: build a larger test set")
    missing = [data / r["path"] for r in rows if not (data / r["path"]).is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: listed in {manifest_path(data)} but missing "
                                f"({len(missing)} of {len(rows)} videos)")
    evidence, y, groups = [], [], []
    for r in tqdm(rows, desc="scanning", unit="video", disable=not progress):
        rec = scan_video(data / r["path"], ScanConfig(detector=detector, progress=False)).record
        evidence.append(evidence_from_record(rec))
        y.append(1 if r["label"] == "fake" else 0)
        groups.append(r.get("identity", ""))
    meta = {"data": str(data.name), "split": split + (" (fusion hold-out identities)" if holdout else ""),
            "detector": detector,
            "manifest_sha256": hashlib.sha256(manifest_path(data).read_bytes()).hexdigest()}
    model, scores = select_fusion(evidence, y, groups, meta=meta)
    write_json_atomic(out, model.as_json())
    return FusionFit(model, scores, len(y), out)
