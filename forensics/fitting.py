"""What the forensic trainers share: the plain logistic model and the per-video feature cache.

The analyzers' small models are standardise + class-balanced logistic regressions stored as JSON
(forensics.jsonmodel); their feature extraction decodes every training video once, so each trainer
keeps a JSON cache of features keyed by content hash and an interrupted run resumes from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def fit_balanced_logistic(x: np.ndarray, y: np.ndarray, c: float) -> Any:
    """``make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))`` fitted on x, y
    (what JsonClassifier.from_sklearn exports)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000)).fit(x, y)


def load_feature_cache(path: Path | None, what: str) -> dict[str, Any]:
    """A trainer's JSON feature cache (``{}`` when there is none yet); ValueError naming the file otherwise."""
    if path is None or not Path(path).exists():
        return {}
    try:
        cache = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a {what} feature cache ({exc}); delete it or pass another --cache") from None
    if not isinstance(cache, dict):
        raise ValueError(f"{path}: not a {what} feature cache (a JSON object); delete it or pass another --cache")
    return cache
