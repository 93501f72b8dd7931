"""Binary-classification metrics for auditing detectors, in plain numpy.

Why not just call scikit-learn: the audit needs a few metrics scikit-learn does not have (EER,
TPR at a fixed FPR, ECE, stratified/clustered bootstrap intervals) and they must all agree on one
definition of the ROC curve, ties and single-class input. Where scikit-learn has the metric, the
tests check agreement to 1e-9.

Conventions (scikit-learn style): ``y_true`` comes first; label 1 = fake (positive class), 0 = real;
``score`` is P(fake) or any score where higher means "more fake". Items with equal scores are
treated as one threshold (ties are never broken by input order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BootstrapCI",
    "ReliabilityBins",
    "accuracy_at",
    "average_precision",
    "bootstrap_ci",
    "bootstrap_cis",
    "brier",
    "eer",
    "expected_calibration_error",
    "f1_at",
    "pr_curve",
    "reliability_bins",
    "roc_auc",
    "roc_curve",
    "tpr_at_fpr",
]


def _as_arrays(y_true, score, *, need_both: bool, probabilities: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate once so every metric fails the same way, with a message that says what to fix."""
    y = np.asarray(y_true)
    s = np.asarray(score, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"y_true and score must be 1-D, got shapes {y.shape} and {s.shape}")
    if y.shape[0] != s.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} items but score has {s.shape[0]}; pass one score per item")
    if y.shape[0] == 0:
        raise ValueError("no items: y_true and score are empty")
    if y.dtype == bool:
        y = y.astype(np.int64)
    try:
        yf = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError("y_true must hold 0 (real) / 1 (fake); map text labels to 0/1 first") from None
    if not np.all((yf == 0) | (yf == 1)):
        bad = np.unique(y[(yf != 0) & (yf != 1)])[:5]
        raise ValueError(f"y_true must hold only 0 (real) and 1 (fake), found {bad.tolist()}")
    if not np.all(np.isfinite(s)):
        raise ValueError("score contains NaN or infinite values; drop or fix those items first")
    if probabilities and (s.min() < 0.0 or s.max() > 1.0):
        raise ValueError(
            f"score must be a probability in [0, 1] for this metric, got range [{s.min():g}, {s.max():g}]"
        )
    yi = yf.astype(np.int64)
    if need_both:
        n_pos = int(yi.sum())
        if n_pos == 0 or n_pos == yi.shape[0]:
            only = "fake" if n_pos else "real"
            raise ValueError(
                f"metric needs both real and fake items, but all {yi.shape[0]} items are {only}; "
                "add items of the other class"
            )
    return yi, s


def _sort_runs(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by score descending and the last index of each run of equal scores.

    A threshold admits all tied items at once, so curves are evaluated only at run ends; the
    order inside a run therefore does not matter and an unstable sort is fine.
    """
    order = np.argsort(-s)
    s_sorted = s[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    return order, ends


def _binary_clf_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative false/true positives at each distinct score, thresholds descending."""
    order, ends = _sort_runs(s)
    tps = np.cumsum(y[order])[ends].astype(np.float64)
    fps = (ends + 1 - tps).astype(np.float64)
    return fps, tps, s[order][ends]


# The three ranking metrics below work on cumulative (fps, tps) counts, which may be weighted:
# the bootstrap feeds resample multiplicities as weights and skips re-sorting every resample.


def _auc_counts(fps: np.ndarray, tps: np.ndarray) -> float:
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) * 0.5))


def _ap_counts(fps: np.ndarray, tps: np.ndarray) -> float:
    den = tps + fps
    precision = np.divide(tps, den, out=np.ones_like(tps), where=den > 0)
    recall = np.r_[0.0, tps / tps[-1]]
    return float(np.sum(np.diff(recall) * precision))


def _eer_counts(fps: np.ndarray, tps: np.ndarray) -> float:
    fpr = np.r_[0.0, fps / fps[-1]]
    diff = (1.0 - np.r_[0.0, tps / tps[-1]]) - fpr  # FNR - FPR: +1 at the origin, -1 at (1, 1)
    i = int(np.argmax(diff <= 0.0))
    if diff[i] == 0.0:
        return float(fpr[i])
    d0, d1 = diff[i - 1], diff[i]
    return float(fpr[i - 1] + d0 / (d0 - d1) * (fpr[i] - fpr[i - 1]))


def roc_curve(y_true, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full ROC curve ``(fpr, tpr, thresholds)``, one point per distinct score plus the origin.

    An item is called fake when ``score >= threshold``. The first point is (0, 0) with threshold
    +inf; the last is (1, 1). No intermediate points are dropped (unlike scikit-learn's default),
    so EER and TPR@FPR see every operating point.
    """
    y, s = _as_arrays(y_true, score, need_both=True)
    fps, tps, thr = _binary_clf_curve(y, s)
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, thr]


def roc_auc(y_true, score) -> float:
    """Area under the ROC curve (trapezoids; ties count half, same as Mann-Whitney U / (n0 n1))."""
    y, s = _as_arrays(y_true, score, need_both=True)
    fps, tps, _ = _binary_clf_curve(y, s)
    return _auc_counts(fps, tps)


def pr_curve(y_true, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve ``(precision, recall, thresholds)`` with recall increasing.

    The first point is (precision=1, recall=0, threshold=+inf), the convention scikit-learn uses
    so that the curve starts at the top-left; then one point per distinct score, descending.
    """
    y, s = _as_arrays(y_true, score, need_both=True)
    fps, tps, thr = _binary_clf_curve(y, s)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return np.r_[1.0, precision], np.r_[0.0, recall], np.r_[np.inf, thr]


def average_precision(y_true, score) -> float:
    """AP = sum_k (R_k - R_{k-1}) P_k over distinct thresholds (step-wise, no interpolation).

    This is scikit-learn's definition; it does not use the optimistic trapezoidal PR area.
    """
    y, s = _as_arrays(y_true, score, need_both=True)
    fps, tps, _ = _binary_clf_curve(y, s)
    return _ap_counts(fps, tps)


def eer(y_true, score) -> float:
    """Equal error rate: the error where false-positive rate equals false-negative rate.

    Definition: walk the ROC curve (every distinct threshold, see ``roc_curve``) and find the
    first segment where FNR - FPR changes sign. Between two adjacent operating points the
    achievable (randomised) classifiers lie on the straight line joining them, so we intersect
    that segment with the line FNR = FPR and return the common value. If an operating point
    lies exactly on FNR = FPR its value is returned unchanged. The result is in [0, 1]; 0 means
    perfectly separable, 0.5 is chance.
    """
    y, s = _as_arrays(y_true, score, need_both=True)
    fps, tps, _ = _binary_clf_curve(y, s)
    return _eer_counts(fps, tps)


def tpr_at_fpr(y_true, score, fpr: float = 0.01) -> float:
    """Highest TPR reachable by a real threshold whose FPR does not exceed ``fpr``.

    No interpolation: this is the detection rate a user actually gets at that false-alarm
    budget. With fewer than 1/fpr real items the only admissible thresholds are those with zero
    false positives, which is the honest answer for a small test set.
    """
    if not 0.0 <= fpr <= 1.0:
        raise ValueError(f"fpr must be in [0, 1], got {fpr}")
    f, t, _ = roc_curve(y_true, score)
    return float(t[f <= fpr + 1e-12].max())


def brier(y_true, score) -> float:
    """Mean squared error between P(fake) and the 0/1 label (lower is better; 0.25 = always 0.5)."""
    y, s = _as_arrays(y_true, score, need_both=False, probabilities=True)
    return float(np.mean((s - y) ** 2))


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin calibration data: what a reliability diagram draws and what ECE sums."""

    edges: np.ndarray  # (n_bins + 1,)
    counts: np.ndarray  # items per bin
    mean_score: np.ndarray  # mean predicted P(fake) per bin (nan where empty)
    frac_fake: np.ndarray  # observed fraction of fakes per bin (nan where empty)


def reliability_bins(y_true, score, n_bins: int = 10) -> ReliabilityBins:
    """Equal-width bins on [0, 1]: bin b holds scores in [b/n, (b+1)/n); the last bin includes 1."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    y, s = _as_arrays(y_true, score, need_both=False, probabilities=True)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.minimum((s * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(np.int64)
    sum_s = np.bincount(idx, weights=s, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_s = np.where(counts > 0, sum_s / np.maximum(counts, 1), np.nan)
        frac = np.where(counts > 0, sum_y / np.maximum(counts, 1), np.nan)
    return ReliabilityBins(edges=edges, counts=counts, mean_score=mean_s, frac_fake=frac)


def expected_calibration_error(y_true, score, n_bins: int = 10) -> float:
    """ECE with ``n_bins`` equal-width bins: sum_b (n_b / N) * |frac_fake_b - mean_score_b|.

    Bins are [0, 0.1), [0.1, 0.2), ... [0.9, 1.0] for n_bins=10 (last bin closed); empty bins
    contribute nothing. Equal-width (not equal-mass) bins so that the number matches the
    reliability diagram in the report bin for bin.
    """
    b = reliability_bins(y_true, score, n_bins)
    used = b.counts > 0
    n = b.counts.sum()
    gap = np.abs(b.frac_fake[used] - b.mean_score[used])
    return float(np.sum(b.counts[used] / n * gap))


def _confusion_at(y_true, score, threshold: float) -> tuple[int, int, int, int]:
    y, s = _as_arrays(y_true, score, need_both=False)
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    return tp, fp, fn, tn


def accuracy_at(y_true, score, threshold: float = 0.5) -> float:
    """Fraction of items labelled correctly when ``score >= threshold`` means fake."""
    tp, fp, fn, tn = _confusion_at(y_true, score, threshold)
    return (tp + tn) / (tp + fp + fn + tn)


def f1_at(y_true, score, threshold: float = 0.5) -> float:
    """F1 of the fake class at ``threshold``: 2TP / (2TP + FP + FN); 0.0 when that is 0/0.

    0/0 happens only with no fakes and no fake calls; scikit-learn also returns 0.0 there.
    """
    tp, fp, fn, _ = _confusion_at(y_true, score, threshold)
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else 0.0


@dataclass(frozen=True)
class BootstrapCI:
    """Percentile bootstrap interval. ``n_failed`` counts resamples where the metric was undefined."""

    estimate: float
    low: float
    high: float
    alpha: float
    n_boot: int
    n_failed: int

    def as_list(self) -> list[float]:
        return [self.low, self.high]


_COUNT_METRICS: dict[Callable[..., float], Callable[[np.ndarray, np.ndarray], float]] = {
    roc_auc: _auc_counts,
    average_precision: _ap_counts,
    eer: _eer_counts,
}


def bootstrap_ci(
    metric_fn: Callable[[np.ndarray, np.ndarray], float],
    y_true,
    score,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    groups=None,
) -> BootstrapCI:
    """Percentile bootstrap interval for ``metric_fn(y_true, score)``.

    Resampling is stratified by class so every resample keeps the original numbers of real and
    fake items: a resample can then never lose a class, and the interval reflects sampling
    noise of the items rather than noise in the class balance.

    ``groups`` (optional, one id per item) switches to a cluster bootstrap: whole groups are
    resampled (still stratified by class). Use it for frame-level metrics, where frames of one
    video are strongly correlated and resampling single frames would give far too narrow
    intervals. Every group must hold a single class.

    Degenerate resamples (the metric raises ValueError or returns a non-finite value) are
    skipped and counted in ``n_failed``; if more than half fail the bounds are NaN rather than
    an interval from a biased handful.
    """
    return bootstrap_cis({"m": metric_fn}, y_true, score, n_boot, seed, alpha, groups)["m"]


def bootstrap_cis(
    metric_fns: Mapping[str, Callable[[np.ndarray, np.ndarray], float]],
    y_true,
    score,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    groups=None,
) -> dict[str, BootstrapCI]:
    """``bootstrap_ci`` for several metrics on the same resamples (see there for the method).

    Sharing resamples keeps the intervals of AUC, AP and EER consistent with each other. For
    ``roc_auc``, ``average_precision`` and ``eer`` each resample is evaluated from weighted
    counts on the once-sorted scores (a resample is just a multiplicity per item), which gives
    the same numbers as re-sorting the resampled arrays at a fraction of the cost.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    y, s = _as_arrays(y_true, score, need_both=False)
    n = y.size
    estimates = {k: float(fn(y, s)) for k, fn in metric_fns.items()}
    rng = np.random.default_rng(seed)

    if groups is None:
        unit_of = np.arange(n)
        unit_label = y
    else:
        g = np.asarray(groups)
        if g.shape != y.shape:
            raise ValueError(f"groups must have one id per item ({n}), got shape {g.shape}")
        _, unit_of = np.unique(g, return_inverse=True)
        n_units = int(unit_of.max()) + 1
        pos_per_unit = np.bincount(unit_of, weights=y, minlength=n_units)
        size_per_unit = np.bincount(unit_of, minlength=n_units)
        if np.any((pos_per_unit > 0) & (pos_per_unit < size_per_unit)):
            raise ValueError("each bootstrap group must contain a single class (one video = one label)")
        unit_label = (pos_per_unit > 0).astype(np.int64)
    strata = [np.flatnonzero(unit_label == c) for c in (0, 1)]
    strata = [st for st in strata if st.size]
    n_units = unit_label.size

    order, ends = _sort_runs(s)
    y_sorted = y[order].astype(np.float64)
    unit_sorted = unit_of[order]
    both = 0 < int(y.sum()) < n

    values: dict[str, list[float]] = {k: [] for k in metric_fns}
    failed = dict.fromkeys(metric_fns, 0)
    for _ in range(n_boot):
        picked = np.concatenate([st[rng.integers(0, st.size, st.size)] for st in strata])
        unit_w = np.bincount(picked, minlength=n_units)
        counts = None
        for k, fn in metric_fns.items():
            try:
                fast = _COUNT_METRICS.get(fn)
                if fast is not None and both:
                    if counts is None:
                        w = unit_w[unit_sorted].astype(np.float64)
                        tps = np.cumsum(w * y_sorted)[ends]
                        counts = (np.cumsum(w)[ends] - tps, tps)
                    v = fast(*counts)
                else:
                    idx = np.repeat(np.arange(n), unit_w[unit_of])
                    v = float(fn(y[idx], s[idx]))
            except ValueError:
                failed[k] += 1
                continue
            if np.isfinite(v):
                values[k].append(v)
            else:
                failed[k] += 1
    out = {}
    for k in metric_fns:
        if len(values[k]) < max(1, n_boot // 2):
            low = high = float("nan")
        else:
            low, high = (float(x) for x in np.quantile(values[k], [alpha / 2, 1 - alpha / 2]))
        out[k] = BootstrapCI(estimate=estimates[k], low=low, high=high, alpha=alpha, n_boot=n_boot,
                             n_failed=failed[k])
    return out
