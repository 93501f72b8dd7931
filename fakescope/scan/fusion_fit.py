"""Fit the fusion model on the validation split of a test set.

    python -m fakescope.scan.fusion_fit --data TESTSET_DIR [--holdout] [--detector MODEL_DIR]
        [--out detector/weights/default/fusion.json]

``--holdout`` fits on the validation identities the detector never saw (a detector trained with
``--fusion-holdout``; see fakescope.core.splits), which is how the shipped fusion is fitted. Each
validation video is scanned once with every analyzer; the fused probability is a logistic
regression over the analyzers' logits (no intercept per analyzer, see fakescope.scan.fusion). The
fit uses scikit-learn and is stored as plain JSON (never pickled).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core.atomicio import write_json_atomic
from fakescope.core.types import Evidence
from fakescope.scan.fusion import FusionModel, fusion_path

FUSED_ANALYZERS = ("detector", "edges", "spectrum", "blink")


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


def main(argv: Sequence[str] | None = None) -> None:
    from tqdm import tqdm

    from fakescope.core.manifest import read_manifest
    from fakescope.scan.pipeline import ScanConfig, scan_video

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--split", default="val")
    ap.add_argument("--holdout", action="store_true", help="only the fusion hold-out identities of the split")
    ap.add_argument("--detector", default="default", help="detector name or model dir the scans use")
    ap.add_argument("--out", type=Path, default=fusion_path())
    args = ap.parse_args(argv)
    from fakescope.core.splits import holdout_of_rows

    all_rows = read_manifest(args.data)
    rows = [r for r in all_rows if r["split"] == args.split]
    if args.holdout:
        held = holdout_of_rows(all_rows)
        rows = [r for r in rows if r.get("identity", "") in held]
    if not rows:
        raise SystemExit(f"no {args.split} rows to fit on in {args.data}")
    evidence, y, groups = [], [], []
    for r in tqdm(rows, desc="scanning", unit="video"):
        rec = scan_video(args.data / r["path"], ScanConfig(detector=args.detector, progress=False)).record
        evidence.append(evidence_from_record(rec))
        y.append(1 if r["label"] == "fake" else 0)
        groups.append(r.get("identity", ""))
    manifest = args.data / "manifest.csv"
    meta = {"data": str(args.data.name), "split": args.split + (" (fusion hold-out identities)" if args.holdout else ""),
            "detector": args.detector,
            "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest()}
    model, scores = select_fusion(evidence, y, groups, meta=meta)
    for subset, auc in sorted(scores.items(), key=lambda kv: -kv[1]):
        print(f"  leave-one-identity-out AUC {auc:.4f}  {subset}")
    write_json_atomic(args.out, model.as_json())
    print(f"fusion model on {len(y)} {args.split} videos: coef {dict(zip(model.analyzers, model.coef, strict=True))}, "
          f"intercept {model.intercept:.3f} -> {args.out}")


if __name__ == "__main__":
    main()
