"""Small scikit-learn classifiers stored as plain numbers in JSON and evaluated with numpy.

Why: pickled scikit-learn objects execute code when loaded and break across library versions;
a standardiser plus a logistic regression or a one-hidden-layer MLP is a handful of arrays, so we
store those and need no scikit-learn at inference time.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "fakescope-mlp-v1"


@dataclass(frozen=True)
class JsonClassifier:
    """standardise -> (dense + ReLU)* -> dense -> sigmoid. No hidden layer = logistic regression."""

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: tuple[np.ndarray, ...]  # (in, out) per layer, last one (in, 1)
    biases: tuple[np.ndarray, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.feature_names)
        if self.mean.shape != (n,) or self.scale.shape != (n,):
            raise ValueError("model file is inconsistent: scaler size differs from the feature count")
        prev = n
        for w, b in zip(self.weights, self.biases, strict=True):
            if w.ndim != 2 or w.shape[0] != prev or b.shape != (w.shape[1],):
                raise ValueError("model file is inconsistent: layer shapes do not chain")
            prev = w.shape[1]
        if prev != 1:
            raise ValueError("model file is inconsistent: the last layer must have one output")

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Logit of P(fake) per row."""
        h = np.atleast_2d(np.asarray(x, np.float64))
        if h.shape[1] != len(self.feature_names):
            raise ValueError(f"model expects {len(self.feature_names)} features, got {h.shape[1]}; retrain or update the weights file")
        h = (h - self.mean) / self.scale
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if k < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.decision(x), -50, 50)))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "feature_names": list(self.feature_names),
            "scaler_mean": self.mean.tolist(),
            "scaler_scale": self.scale.tolist(),
            "layers": [{"weight": w.tolist(), "bias": b.tolist()} for w, b in zip(self.weights, self.biases, strict=True)],
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> JsonClassifier:
        if d.get("format") != FORMAT:
            raise ValueError(f"not a fakescope classifier file (format={d.get('format')!r}, expected {FORMAT!r})")
        return cls(
            tuple(d["feature_names"]),
            np.asarray(d["scaler_mean"], np.float64),
            np.asarray(d["scaler_scale"], np.float64),
            tuple(np.asarray(layer["weight"], np.float64) for layer in d["layers"]),
            tuple(np.asarray(layer["bias"], np.float64) for layer in d["layers"]),
            dict(d.get("meta", {})),
        )

    @classmethod
    def from_sklearn(cls, pipeline: Any, feature_names: tuple[str, ...], meta: dict[str, Any] | None = None) -> JsonClassifier:
        """From a fitted ``make_pipeline(StandardScaler(), LogisticRegression() | MLPClassifier(relu))``."""
        scaler, clf = pipeline[0], pipeline[-1]
        if hasattr(clf, "coefs_"):
            if getattr(clf, "activation", "relu") != "relu":
                raise ValueError("only ReLU MLPs can be exported")
            weights = tuple(np.asarray(w, np.float64) for w in clf.coefs_)
            biases = tuple(np.asarray(b, np.float64) for b in clf.intercepts_)
        else:
            weights = (np.asarray(clf.coef_, np.float64).T,)
            biases = (np.asarray(clf.intercept_, np.float64),)
        return cls(tuple(feature_names), np.asarray(scaler.mean_, np.float64), np.asarray(scaler.scale_, np.float64),
                   weights, biases, dict(meta or {}))

    def save(self, path: Path) -> None:
        """Atomic write: a crash never leaves a half-written weights file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".json.tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(self.to_json(), fh, separators=(",", ":"))
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; weights are shipped files
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: Path, train_hint: str) -> JsonClassifier:
        path = Path(path)
        if not path.exists():
            raise ValueError(f"model weights {path} not found; train them with `{train_hint}`")
        with path.open() as fh:
            return cls.from_json(json.load(fh))



@lru_cache(maxsize=8)
def load_optional(path: str, feature_names: tuple[str, ...], train_command: str) -> JsonClassifier | None:
    """An analyzer's model file, loaded once per process: None when it is not installed (the analyzer
    then says so), ValueError when it was trained on other features than the code makes now."""
    p = Path(path)
    if not p.exists():
        return None
    model = JsonClassifier.load(p, train_command)
    if tuple(model.feature_names) != tuple(feature_names):
        raise ValueError(f"{p} was trained on features {model.feature_names}, this code makes {feature_names}; "
                         f"retrain it with `{train_command}`")
    return model
