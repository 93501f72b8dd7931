"""Scoring a model on one split the way ``scan`` would: frame logits, then per-video aggregation.

Shared by training (model selection on val, calibration, the test record) so the numbers in a
model's config.json are computed exactly like the verdicts users will see.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from detector.aggregate import aggregate_video
from detector.calibration import Calibrator, brier_score, sigmoid
from detector.data import CropSplit
from detector.io import LoadedDetector, preprocess_crops


def auc_or_none(y: np.ndarray, s: np.ndarray) -> float | None:
    """ROC AUC, or None when only one class is present (undefined, not 0.5)."""
    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else None


def predict_split(
    model: torch.nn.Module,
    split: CropSplit,
    norm: tuple[tuple[float, ...], tuple[float, ...]],
    input_size: int,
    batch_size: int = 128,
    bf16: bool = False,
    with_masks: bool = False,
) -> np.ndarray:
    """Frame logits (N,) of an eval-mode model over a split's crops (``with_masks``: the model
    also reads each crop's face-hull mask, see DetectorSpec.in_channels)."""
    if with_masks and split.masks is None:
        raise ValueError("this model reads face masks but the crops carry none; rebuild the test set with 'fakescope testset build'")
    model.eval()
    out = np.empty(len(split), np.float32)
    dev = next(model.parameters()).device
    with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(split), batch_size):
            masks = split.masks[i : i + batch_size] if with_masks else None
            x = preprocess_crops(split.images[i : i + batch_size], input_size, *norm, masks).to(dev)
            out[i : i + len(x)] = model(x).float().cpu().numpy()
    return out


def video_scores(
    split: CropSplit, logits: np.ndarray, calibrator: Calibrator | None, top_frac: float, *, as_logits: bool = False
) -> np.ndarray:
    """Per-video probability via ``aggregate_video`` (a manifest row is one video with one track).

    ``as_logits`` returns the aggregated logit instead. Rank metrics (AUC) use it: calibration is
    monotonic, so the ranking is the same, but calibrated probabilities are clipped to 1 - 1e-4, so
    every video above a logit of about 9 ties with every other, and ties count as half a mistake
    (how much that cost one of our models: docs/experiments.md).
    """
    out = np.empty(len(split.video_labels))
    for v in range(len(out)):
        sel = split.video == v
        score = aggregate_video(np.zeros(sel.sum()), split.frames[sel], logits[sel], calibrator, top_frac)
        out[v] = score.logit if as_logits else score.probability
    return out


def split_metrics(
    split: CropSplit,
    logits: np.ndarray,
    calibrator: Calibrator,
    top_frac: float,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Frame and video AUC, Brier before/after calibration, accuracy at the threshold, and the
    video AUC of each fake method against all reals (the held-out-method figure)."""
    z_video = video_scores(split, logits, calibrator, top_frac, as_logits=True)  # ranks without saturation ties
    p_video = calibrator.predict_proba(z_video)  # one track per row: the video probability of that logit
    m: dict[str, Any] = {
        "n_frames": len(split),
        "n_videos": len(p_video),
        "frame_auc": auc_or_none(split.labels, logits),
        "video_auc": auc_or_none(split.video_labels, z_video),
        "frame_brier_uncalibrated": brier_score(split.labels, sigmoid(logits)),
        "frame_brier": brier_score(split.labels, calibrator.predict_proba(logits)),
        "video_brier": brier_score(split.video_labels, p_video),
    }
    if threshold is not None:
        m["video_accuracy"] = float(np.mean((p_video >= threshold) == (split.video_labels == 1)))
    reals = split.video_labels == 0
    methods = np.asarray(split.video_methods)
    m["per_method_video_auc"] = {}
    for meth in sorted(set(methods[split.video_labels == 1])):
        fakes = methods == meth
        y = np.r_[np.zeros(reals.sum()), np.ones(fakes.sum())]
        m["per_method_video_auc"][meth] = auc_or_none(y, np.r_[z_video[reals], z_video[fakes]])
    return m


def loaded_split_metrics(det: LoadedDetector, split: CropSplit) -> dict[str, Any]:
    """``split_metrics`` of a saved detector on another test set's split, with the normalisation,
    calibration and aggregation it was saved with, so its figures compare with its own run.json's."""
    logits = predict_split(det.model, split, (det.config["mean"], det.config["std"]), det.input_size)
    return split_metrics(split, logits, det.calibrator, det.top_frac)
