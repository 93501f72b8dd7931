"""Turn raw detector logits into probabilities that mean what they say, and pick a threshold.

Fusion multiplies odds from several analyzers, so an over-confident detector would silence the
blink and edge evidence; calibration on the validation split fixes that. Calibrators serialise to
a plain dict stored in config.json, so loading a model never needs pickle or scikit-learn state.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from scipy.optimize import minimize_scalar

# Calibrated probabilities are kept this far from 0 and 1: a hard 0/1 learned from a few hundred
# validation crops would veto every other analyzer in log-odds fusion.
PROB_EPS = 1e-4


def sigmoid(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def _check_xy(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    if z.shape != t.shape or z.size == 0:
        raise ValueError(f"need equally long, non-empty logits and labels, got {z.shape} and {t.shape}")
    if not np.isin(t, (0.0, 1.0)).all() or len(np.unique(t)) < 2:
        raise ValueError("labels must be 0 (real) / 1 (fake) and contain both classes to calibrate")
    return z, t


class Calibrator(Protocol):
    def fit(self, logits: np.ndarray, y: np.ndarray) -> Calibrator: ...
    def predict_proba(self, logits: np.ndarray) -> np.ndarray: ...
    def to_dict(self) -> dict[str, Any]: ...


class IdentityCalibrator:
    """Plain sigmoid; what an uncalibrated model uses."""

    def fit(self, logits: np.ndarray, y: np.ndarray) -> IdentityCalibrator:
        return self

    def predict_proba(self, logits: np.ndarray) -> np.ndarray:
        return np.clip(sigmoid(logits), PROB_EPS, 1 - PROB_EPS)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "none"}


class TemperatureScaler:
    """p = sigmoid(z / T), T fitted by minimising the validation log-loss.

    One parameter cannot over-fit a small validation split and keeps the ranking (AUC) unchanged.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = float(temperature)

    def fit(self, logits: np.ndarray, y: np.ndarray) -> TemperatureScaler:
        z, t = _check_xy(logits, y)

        def nll(log_t: float) -> float:
            s = z / np.exp(log_t)
            return float(np.mean(np.logaddexp(0.0, s) - t * s))

        res = minimize_scalar(nll, bounds=(np.log(1e-2), np.log(1e3)), method="bounded")
        self.temperature = float(np.exp(res.x))
        return self

    def predict_proba(self, logits: np.ndarray) -> np.ndarray:
        return np.clip(
            sigmoid(np.asarray(logits, dtype=np.float64) / self.temperature), PROB_EPS, 1 - PROB_EPS
        )

    def to_dict(self) -> dict[str, Any]:
        return {"method": "temperature", "temperature": self.temperature}


class IsotonicCalibrator:
    """Monotone step-wise map fitted by scikit-learn's IsotonicRegression.

    More flexible than temperature scaling (fixes a shifted as well as a stretched score), at the
    cost of needing a larger validation split. Stored as its knots and evaluated with np.interp,
    which is exactly how scikit-learn predicts with ``out_of_bounds='clip'``.
    """

    def __init__(self, x: list[float] | None = None, y: list[float] | None = None) -> None:
        self.x = np.asarray(x if x is not None else [], dtype=np.float64)
        self.y = np.asarray(y if y is not None else [], dtype=np.float64)

    def fit(self, logits: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        z, t = _check_xy(logits, y)
        from sklearn.isotonic import IsotonicRegression  # lazy: scikit-learn adds a second to scan start-up

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(z, t)
        self.x, self.y = iso.X_thresholds_.astype(np.float64), iso.y_thresholds_.astype(np.float64)
        return self

    def predict_proba(self, logits: np.ndarray) -> np.ndarray:
        if self.x.size == 0:
            raise ValueError("IsotonicCalibrator is not fitted; call fit(logits, y) first")
        z = np.asarray(logits, dtype=np.float64)
        return np.clip(np.interp(z, self.x, self.y), PROB_EPS, 1 - PROB_EPS)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "isotonic", "x": self.x.tolist(), "y": self.y.tolist()}


def make_calibrator(method: str) -> Calibrator:
    if method == "temperature":
        return TemperatureScaler()
    if method == "isotonic":
        return IsotonicCalibrator()
    if method == "none":
        return IdentityCalibrator()
    raise ValueError(f"unknown calibration method {method!r}; use 'temperature', 'isotonic' or 'none'")


def calibrator_from_dict(d: dict[str, Any] | None) -> Calibrator:
    """Rebuild a calibrator from config.json (a missing entry means an uncalibrated model)."""
    method = (d or {}).get("method", "none")
    if method == "temperature":
        return TemperatureScaler(d["temperature"])
    if method == "isotonic":
        return IsotonicCalibrator(d["x"], d["y"])
    if method == "none":
        return IdentityCalibrator()
    raise ValueError(f"config.json names unknown calibration method {method!r}")


def brier_score(y_true: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)) ** 2))


def choose_threshold(
    y_true: np.ndarray, p: np.ndarray, criterion: str = "youden", max_fpr: float = 0.01
) -> float:
    """Operating threshold on validation scores: predict fake when ``p >= threshold``.

    ``youden`` maximises TPR - FPR (equivalently balanced accuracy, so class imbalance in the
    validation split does not drag the threshold); ``fpr`` maximises TPR subject to FPR <= max_fpr,
    for users who must not accuse real videos. The threshold sits halfway between the chosen score
    and the next lower one so that small score jitter on new data does not flip decisions.
    """
    y = np.asarray(y_true).ravel()
    s = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != s.shape or len(np.unique(y)) < 2:
        raise ValueError("choose_threshold needs scores for both real (0) and fake (1) validation samples")
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, s)
    if criterion == "youden":
        i = int(np.argmax(tpr - fpr))
    elif criterion == "fpr":
        ok = np.flatnonzero(fpr <= max_fpr)
        i = int(ok[np.argmax(tpr[ok])])
    else:
        raise ValueError(f"unknown threshold criterion {criterion!r}; use 'youden' or 'fpr'")
    if not np.isfinite(thr[i]):  # roc_curve's first point: nothing predicted fake
        return float(np.nextafter(s.max(), np.inf))
    lower = s[s < thr[i]]
    return float((thr[i] + lower.max()) / 2) if lower.size else float(thr[i])
