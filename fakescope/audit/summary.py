"""Audit numbers for one scorer: overall blocks with intervals, breakdowns, robustness, attacks.

Kept apart from scoring/caching so the aggregation can be tested and reused (e.g. by the
dashboard) on scores from anywhere. Undefined metrics (one class in a group) are None, never
NaN, because metrics.json must be strict JSON; every block and breakdown row also carries
``undefined_reason`` (e.g. "undefined: only fake videos in this group", null when the ranking
metrics are defined) so a reader of metrics.json or the report sees why a number is missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fakescope.audit.items import ROBUSTNESS_KEYS, Item, perturbations
from fakescope.core import metrics as M

if TYPE_CHECKING:
    from fakescope.audit.scores import ItemScore

__all__ = ["DEFINITIONS", "choose_threshold", "recorded_attacks", "scorer_metrics", "undefined_reason"]


def undefined_reason(y: np.ndarray) -> str | None:
    """Why AUC, AP, EER and TPR@1%FPR of a group with labels ``y`` are undefined, or None if they are defined."""
    if y.size == 0:
        return "undefined: no scored videos in this group"
    n_fake = int((y == 1).sum())
    if n_fake == y.size:
        return "undefined: only fake videos in this group"
    if n_fake == 0:
        return "undefined: only real videos in this group"
    return None


def _try(fn: Callable[..., float], *args: Any, **kw: Any) -> float | None:
    try:
        v = float(fn(*args, **kw))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _both(y: np.ndarray) -> bool:
    return y.size > 0 and 0 < int(y.sum()) < y.size


def _metric_block(y: np.ndarray, s: np.ndarray, thr: float, n_boot: int, seed: int,
                  groups: np.ndarray | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"n": int(y.size), "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                             "undefined_reason": undefined_reason(y)}
    if y.size == 0:
        return block | {k: None for k in ("auc", "ap", "eer", "accuracy", "f1", "tpr_at_1pct_fpr",
                                         "brier", "ece", "ci")}
    block.update(
        auc=_try(M.roc_auc, y, s), ap=_try(M.average_precision, y, s), eer=_try(M.eer, y, s),
        accuracy=_try(M.accuracy_at, y, s, thr), f1=_try(M.f1_at, y, s, thr),
        tpr_at_1pct_fpr=_try(M.tpr_at_fpr, y, s, 0.01),
        brier=_try(M.brier, y, s), ece=_try(M.expected_calibration_error, y, s),
    )
    fns = {"auc": M.roc_auc, "ap": M.average_precision, "eer": M.eer}
    if not _both(y) or n_boot <= 0:
        block["ci"] = dict.fromkeys(fns)
    else:
        cis = M.bootstrap_cis(fns, y, s, n_boot=n_boot, seed=seed, groups=groups)
        block["ci"] = {k: [_fin(c.low), _fin(c.high)] for k, c in cis.items()}
    return block


def _fin(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _short_block(y: np.ndarray, s: np.ndarray, thr: float) -> dict[str, Any]:
    """Breakdown row: ranking quality where defined, and what the threshold does to each class."""
    pred = s >= thr
    real, fake = y == 0, y == 1
    return {
        "n_real": int(real.sum()), "n_fake": int(fake.sum()),
        "auc": _try(M.roc_auc, y, s) if y.size else None,
        "undefined_reason": undefined_reason(y),
        "ap": _try(M.average_precision, y, s) if y.size else None,
        "eer": _try(M.eer, y, s) if y.size else None,
        "accuracy": _try(M.accuracy_at, y, s, thr) if y.size else None,
        "detection_rate": float(pred[fake].mean()) if fake.any() else None,
        "false_alarm_rate": float(pred[real].mean()) if real.any() else None,
        "mean_score_fake": float(s[fake].mean()) if fake.any() else None,
        "mean_score_real": float(s[real].mean()) if real.any() else None,
    }


def _fmt_value(v: float) -> str:
    return f"{v:g}"


def choose_threshold(scores: Mapping[int, ItemScore]) -> tuple[float, str]:
    """The scorer's calibrated threshold (from its ItemScores), 0.5 if it states none."""
    thresholds = sorted({sc.threshold for sc in scores.values() if sc.threshold is not None})
    if not thresholds:
        return 0.5, "default 0.5 (scorer gave none)"
    if len(thresholds) == 1:
        return thresholds[0], "scorer"
    return float(np.median(thresholds)), f"median of {len(thresholds)} differing scorer thresholds"


def scorer_metrics(items: Sequence[Item], scores: Mapping[int, ItemScore], n_boot: int, seed: int,
                   attack_items: Mapping[int, Mapping[str, Any]], pair_index: Mapping[str, int],
                   name: str) -> dict[str, Any]:
    """Every number metrics.json holds for one scorer; ``scores`` maps item index -> ItemScore.

    ``attack_items`` (item index -> ``attack_info``) and ``pair_index`` (sha256 or resolved
    path -> item index) let attack success use this scorer's own score on the clean twin.
    """
    idx = np.array(sorted(scores), dtype=np.int64)
    y = np.array([items[i].y for i in idx], dtype=np.int64)
    s = np.array([scores[i].video_score for i in idx], dtype=np.float64)
    status = np.array([scores[i].status for i in idx])
    thr, thr_source = choose_threshold(scores)

    out: dict[str, Any] = {
        "threshold": thr, "threshold_source": thr_source,
        "n_items": len(items), "n_scored": int(idx.size),
        "n_insufficient": int((status != "ok").sum()),
        "coverage_ok": float((status == "ok").mean()) if idx.size else None,
    }
    out["video"] = _metric_block(y, s, thr, n_boot, seed)
    ok = status == "ok"
    out["video_ok_only"] = {k: v for k, v in _short_block(y[ok], s[ok], thr).items()} | {"n": int(ok.sum())}

    # frame level: frames inherit the video's label; bootstrap resamples whole videos
    fy, fs, fg = [], [], []
    for i in idx:
        for _, p in scores[i].frame_scores:
            fy.append(items[i].y)
            fs.append(p)
            fg.append(i)
    if fy:
        out["frame"] = _metric_block(np.array(fy), np.array(fs), thr, n_boot, seed, groups=np.array(fg))
        out["frame"]["n_videos"] = int(len(set(fg)))
    else:
        out["frame"] = None

    # per method: each fake method against all reals
    real_mask = y == 0
    methods = sorted({items[i].method or "(unspecified)" for i, yy in zip(idx, y, strict=True) if yy == 1})
    per_method = {}
    for m in methods:
        mask = real_mask | np.array([yy == 1 and (items[i].method or "(unspecified)") == m
                                     for i, yy in zip(idx, y, strict=True)], dtype=bool)
        row = _short_block(y[mask], s[mask], thr)
        if _both(y[mask]) and n_boot > 0:
            b = M.bootstrap_ci(M.roc_auc, y[mask], s[mask], n_boot=n_boot, seed=seed)
            row["auc_ci"] = [_fin(b.low), _fin(b.high)]
        per_method[m] = row
    out["per_method"] = per_method

    # per perturbation condition (key=value); missing class filled from unperturbed items
    perts = [perturbations(items[i].params) for i in idx]
    clean = np.array([not p for p in perts], dtype=bool)
    conditions: dict[tuple[str, float], np.ndarray] = {}
    for k, p in enumerate(perts):
        for key, value in p.items():
            conditions.setdefault((key, value), np.zeros(idx.size, dtype=bool))[k] = True
    per_pert: dict[str, Any] = {}
    if clean.any():
        per_pert["none"] = _short_block(y[clean], s[clean], thr) | {"parameter": None, "value": None}
    for key, value in sorted(conditions, key=lambda kv: (ROBUSTNESS_KEYS.index(kv[0]), kv[1])):
        mask = conditions[(key, value)].copy()
        filled = None
        for cls, cname in ((0, "real"), (1, "fake")):
            if not (y[mask] == cls).any() and (clean & (y == cls)).any():
                mask |= clean & (y == cls)
                filled = cname
        row = _short_block(y[mask], s[mask], thr) | {"parameter": key, "value": value}
        if filled:
            row["filled_from_unperturbed"] = filled
        per_pert[f"{key}={_fmt_value(value)}"] = row
    out["per_perturbation"] = per_pert

    # robustness curves from the per-condition AUCs
    base_auc = per_pert["none"]["auc"] if "none" in per_pert else None
    robustness = {}
    for key in ROBUSTNESS_KEYS:
        pts = [[r["value"], r["auc"], r["n_real"] + r["n_fake"]] for r in per_pert.values() if r.get("parameter") == key]
        if pts:
            robustness[key] = {"points": sorted(pts, key=lambda p: p[0]), "unperturbed_auc": base_auc}
    out["robustness"] = robustness

    per_identity = {}
    for ident in sorted({items[i].identity or "(unspecified)" for i in idx}):
        mask = np.array([(items[i].identity or "(unspecified)") == ident for i in idx], dtype=bool)
        per_identity[ident] = _short_block(y[mask], s[mask], thr)
    out["per_identity"] = per_identity

    out["attack"] = _attack_block(scores, attack_items, pair_index, thr, name)
    return out


def _attack_block(scores: Mapping[int, ItemScore], attack_items: Mapping[int, Mapping[str, Any]],
                  pair_index: Mapping[str, int], thr: float, name: str) -> dict[str, Any] | None:
    """Success = a fake the scorer called fake before the attack and calls real after it.

    "Before" is this scorer's own score on the unattacked twin when the manifest links one
    (params clean_sha256 / attacked_from ...); otherwise the score recorded at build time, but
    only if the attack targeted this scorer (or names no target). "After" is always measured now.
    """
    if not attack_items:
        return None
    groups: dict[str, dict[str, list]] = {}
    for i, info in attack_items.items():
        if i not in scores:
            continue
        after = scores[i].video_score
        before, src = None, None
        twin = pair_index.get(info["pair"]) if info["pair"] else None
        if twin is not None and twin in scores:
            before, src = scores[twin].video_score, "paired"
        elif info["score_before"] is not None and (info["detector"] in (None, "", name)):
            before, src = info["score_before"], "recorded"
        label = info["attack"] + (f" eps={_fmt_value(info['epsilon'])}" if info["epsilon"] is not None else "")
        for key in ("all", label):
            g = groups.setdefault(key, {"after": [], "before": [], "src": []})
            g["after"].append(after)
            g["before"].append(before)
            g["src"].append(src)
    result = {}
    for key, g in groups.items():
        after = np.array(g["after"])
        called_fake_before = [(b >= thr, a < thr) for b, a in zip(g["before"], g["after"], strict=True) if b is not None]
        eligible = [flip for was_fake, flip in called_fake_before if was_fake]
        result[key] = {
            "n": int(after.size),
            "evasion_rate": float((after < thr).mean()) if after.size else None,
            "n_with_before": len(called_fake_before),
            "n_called_fake_before": len(eligible),
            "success_rate": float(np.mean(eligible)) if eligible else None,
            "before_from": {"paired": g["src"].count("paired"), "recorded": g["src"].count("recorded")},
        }
    return result


def recorded_attacks(attack_items: Mapping[int, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Build-time success of each attack against its own target, from params alone."""
    rows: dict[str, list[bool]] = {}
    for info in attack_items.values():
        b, a = info["score_before"], info["score_after"]
        if b is None or a is None:
            continue
        t = info["threshold"] if info["threshold"] is not None else 0.5
        if b < t:
            continue
        key = f"{info['attack']} vs {info['detector'] or '(target unnamed)'}"
        rows.setdefault(key, []).append(a < t)
    return {k: {"n_called_fake_before": len(v), "success_rate": float(np.mean(v))} for k, v in rows.items()} or None


DEFINITIONS = {
    "label": "1 = fake (positive class), 0 = real; scores are P(fake); score >= threshold means 'called fake'",
    "auc": "area under the full ROC curve (ties count half)",
    "undefined_reason": "why AUC, AP, EER, TPR@1%FPR and their intervals are empty (null) for a group: "
                        "they compare real with fake videos, so a group with only one class has none",
    "ap": "average precision = sum over thresholds of (recall step) x precision (scikit-learn definition)",
    "eer": "error where FPR = FNR, linearly interpolated on the ROC segment that crosses FPR = FNR",
    "tpr_at_1pct_fpr": "highest TPR of a real threshold with FPR <= 1% (no interpolation)",
    "brier": "mean of (P(fake) - label)^2",
    "ece": "10 equal-width bins on [0,1]: sum of (bin share) x |fraction fake - mean P(fake)|",
    "accuracy_f1": "at the scorer's calibrated threshold (0.5 if it has none)",
    "per_method": "each fake method against all real items",
    "per_perturbation": "items carrying that perturbation value; a missing class is filled from unperturbed items",
    "attack_success": "fake items the scorer called fake before the attack and calls real after it",
    "evasion_rate": "share of attacked fake items the scorer calls real",
    "insufficient": "items a scorer marks 'insufficient' count at their score; video_ok_only leaves them out",
}
