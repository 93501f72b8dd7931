"""Fit the temporal model (forensics/weights/temporal.json) on test sets built by `testset build`.

Each item video is decoded once through the face pipeline and the temporal analyzer's features of
its longest face track become one row (cached by content hash, so an interrupted run resumes).
The model (standardise + class-balanced logistic regression, stored as JSON by
forensics.jsonmodel) is fitted on the train split only: the validation split stays unseen for
`fusion fit`, and the figures are measured on the validation and test identities, which the
builder keeps disjoint from the train identities:

- ``heldout_auc``: all held-out items; ``per_method``: each fake method against the held-out reals;
- ``leave_one_method_out``: a model fitted on the train split without one method, measured on
  that method's held-out items (does it catch a kind of fake it never saw?).

    fakescope forensics train temporal --data TESTSET_DIR ... [--cache temporal_features.json] [--out JSON]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core.analyzers import CropCache
from fakescope.core.atomicio import write_text_atomic
from fakescope.core.faces import FacePipeline
from fakescope.core.hashing import sha256_bytes, sha256_file
from fakescope.core.manifest import read_manifest
from fakescope.core.metrics import roc_auc
from fakescope.core.video import probe
from forensics.fitting import fit_balanced_logistic, load_feature_cache
from forensics.jsonmodel import JsonClassifier
from forensics.temporal import FEATURE_NAMES, FEATURES_VERSION, WEIGHTS, TemporalAnalyzer


def video_features(path: Path) -> dict[str, float] | None:
    """The temporal features of the video's longest face track (None: no usable track)."""
    info = probe(path)
    an = TemporalAnalyzer(use_model=False)
    an.start(info)
    crops = CropCache()
    counts: dict[int, int] = {}
    for index, ts, frame, faces in FacePipeline().run(path, info):
        crops.reset(index, frame)
        an.update(index, ts, frame, faces, crops)
        for f in faces:
            counts[f.track_id] = counts.get(f.track_id, 0) + 1
    if not counts:
        return None
    return an.features(max(counts, key=counts.__getitem__))


def feature_rows(testsets: Iterable[str | Path], cache: Path | None = None,
                 on_item: Callable[[int, int, str], None] | None = None) -> list[dict[str, Any]]:
    """One row per usable item of every test set: label, method, identity, split and features."""
    items = []
    for ts in testsets:
        root = Path(ts)
        for row in read_manifest(root, require=("path", "label", "method", "identity", "split")):
            items.append((root / row["path"], row))
    if not items:
        raise ValueError("the test sets hold no items; build one with `fakescope testset build`")
    features = load_feature_cache(cache, "temporal")
    rows = []
    for k, (path, row) in enumerate(items):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed in its manifest but missing")
        key = f"{sha256_file(path)}:v{FEATURES_VERSION}"
        if key not in features:
            features[key] = video_features(path)
            if cache is not None:
                write_text_atomic(Path(cache), json.dumps(features))
        if on_item is not None:
            on_item(k + 1, len(items), path.name)
        if features[key] is not None:
            rows.append({"path": str(path), "label": int(row["label"] == "fake"), "method": row["method"],
                         "identity": row["identity"], "split": row["split"], "features": features[key]})
    return rows


def train(rows: list[dict[str, Any]], c: float = 0.3) -> tuple[JsonClassifier, dict[str, Any]]:
    """Fit on the train split; AUCs on the held-out (val + test) identities."""
    x = np.array([[r["features"][k] for k in FEATURE_NAMES] for r in rows])
    y = np.array([r["label"] for r in rows])
    method = np.array([r["method"] for r in rows])
    train_sel = np.array([r["split"] == "train" for r in rows])
    held = ~train_sel
    if len(set(y[train_sel].tolist())) < 2 or len(set(y[held].tolist())) < 2:
        raise ValueError("the temporal model needs real and fake items in the train split and in the val/test splits; "
                         "build a larger test set (more videos or --segments)")
    pipe = fit_balanced_logistic(x[train_sel], y[train_sel], c)
    p = pipe.predict_proba(x)[:, 1]
    fakes = sorted({m for m in method[y == 1]})
    real_held = held & (y == 0)
    per_method = {m: float(roc_auc(np.r_[np.zeros(real_held.sum()), np.ones((held & (method == m)).sum())],
                                   np.r_[p[real_held], p[held & (method == m)]]))
                  for m in fakes if (held & (method == m)).any()}
    lomo = {}
    for m in fakes:
        keep = train_sel & (method != m)
        if len(set(y[keep].tolist())) < 2 or not (held & (method == m)).any():
            continue
        q = fit_balanced_logistic(x[keep], y[keep], c).predict_proba(x)[:, 1]
        lomo[m] = float(roc_auc(np.r_[np.zeros(real_held.sum()), np.ones((held & (method == m)).sum())],
                                np.r_[q[real_held], q[held & (method == m)]]))
    metrics = {"heldout_auc": float(roc_auc(y[held], p[held])), "per_method": per_method,
               "leave_one_method_out": lomo, "n_train": int(train_sel.sum()), "n_heldout": int(held.sum()),
               "identities_train": len({r["identity"] for r, t in zip(rows, train_sel, strict=True) if t}),
               "identities_heldout": len({r["identity"] for r, t in zip(rows, held, strict=True) if t})}
    meta = {"C": c, "features_version": FEATURES_VERSION, "metrics": metrics,
            "model": "standardise + class-balanced L2 logistic regression, fitted on the train split",
            "methods": fakes, "data_hash": sha256_bytes("\n".join(sorted(r["path"] for r in rows)).encode()),
            "coef": dict(zip(FEATURE_NAMES, np.round(pipe[-1].coef_[0], 4).tolist(), strict=True))}
    return JsonClassifier.from_sklearn(pipe, FEATURE_NAMES, meta), metrics


def fit_temporal_model(testsets: Iterable[str | Path], cache: Path | None = None, out: Path = WEIGHTS,
                       c: float = 0.3, on_item: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    """Features of every item (cached), fit on the train split, save ``out`` only on success; the metrics."""
    model, metrics = train(feature_rows(testsets, cache, on_item), c)
    model.save(Path(out))
    return metrics
