"""Online self-blended pseudo-fakes: every batch pairs real crops with fresh self-blends of them.

Why: a test set holds a few dozen self-blend videos, each blended once. A detector trained only on
those learns the handful of colour shifts and mask shapes it was shown and misses new ones.
Blending anew at every step (Shiohara & Yamasaki's recipe, see generator.selfblend) turns each
real crop into an unlimited supply of boundary artifacts; pairing the fake with its own real
source means the only difference the model can use is the blend itself, not the identity or the
scene. The shipped recipe uses it (figures: docs/experiments.md and the model card). Off unless
asked for (``--sbi``), because it needs face masks in the crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.data import CropSplit
from generator.selfblend import self_blend_hull


@dataclass(frozen=True)
class BatchPlan:
    """Which crops make one global batch, drawn before any pixels are touched (so DDP ranks agree)."""

    index: np.ndarray  # (B,) crop index into the split
    blend: np.ndarray  # (B,) bool: this sample is a self-blend of crop ``index``
    seeds: np.ndarray  # (B,) per-sample seed for the blend (unused where blend is False)
    twin: np.ndarray  # (B,) batch position of a blend's real source (-1 elsewhere)

    def tie(self, seeds: np.ndarray) -> np.ndarray:
        """Per-sample augmentation seeds where each self-blend reuses its real twin's seed.

        Why: the pair then goes through the same flip, resize, blur and JPEG after the blend, so
        the only difference between them is the blend itself, degraded the way a platform would
        degrade a fake, rather than the blend plus unrelated degradations of one of the two.
        """
        out = np.array(seeds, copy=True)
        has = self.twin >= 0
        out[has] = out[self.twin[has]]
        return out


def real_weights(split: CropSplit) -> np.ndarray:
    """Sampling weights over the split's real crops that carry a face hull: each real video an equal
    share, and still photos (if any) half of the mass, each photo group an equal share of that half."""
    if split.masks is None:
        raise ValueError(
            "these crops have no face masks, which online self-blending needs; rebuild the test set "
            "with 'fakescope testset build' or train with --sbi 0"
        )
    has_face = split.masks.reshape(len(split), -1).max(axis=1) > 127
    photo = split.photo_videos
    parts = []
    for group in (~photo, photo):  # video reals, then still photos (generator.photoreals)
        w = np.zeros(len(split), np.float64)
        for v in np.flatnonzero((split.video_labels == 0) & group):
            sel = (split.video == v) & has_face
            if sel.any():
                w[sel] = 1.0 / sel.sum()
        if w.sum() > 0:
            parts.append(w / w.sum())
    if not parts:
        raise ValueError("no real training crop has a face mask; online self-blending needs real faces")
    # Photos add identities but are not the domain we judge: with videos present they get half the blends.
    return sum(parts) / len(parts)


def plan_batch(
    rng: np.random.Generator, batch_size: int, weights: np.ndarray, sbi_fraction: float, sbi_weights: np.ndarray | None
) -> BatchPlan:
    """Draw a batch: ``round(sbi_fraction * B / 2)`` real crops each appear as itself and as a
    self-blend; the rest is drawn with the class-balanced ``weights``, so the batch stays balanced."""
    pairs = int(round(sbi_fraction * batch_size / 2)) if sbi_weights is not None else 0
    rest = rng.choice(len(weights), size=batch_size - 2 * pairs, p=weights)
    if pairs == 0:
        return BatchPlan(rest, np.zeros(len(rest), bool), np.zeros(len(rest), np.int64), np.full(len(rest), -1))
    src = rng.choice(len(sbi_weights), size=pairs, p=sbi_weights)
    seeds = rng.integers(0, 2**63 - 1, size=pairs)
    index = np.concatenate([rest, src, src])
    blend = np.concatenate([np.zeros(len(rest) + pairs, bool), np.ones(pairs, bool)])
    all_seeds = np.concatenate([np.zeros(len(rest) + pairs, np.int64), seeds])
    twin = np.concatenate([np.full(len(rest) + pairs, -1), len(rest) + np.arange(pairs)])
    return BatchPlan(index, blend, all_seeds, twin)


def materialize(
    split: CropSplit, plan: BatchPlan, sel: slice | np.ndarray, alphas: bool = False
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images and labels of the ``sel`` part of ``plan`` (a rank's slice under DDP).

    With ``alphas`` also each sample's blend alpha (N, H, W) float32: the mask a self-blend was
    mixed with, zeros for every other sample (for the seam loss, see :func:`seam_target`).
    """
    index, blend, seeds = plan.index[sel], plan.blend[sel], plan.seeds[sel]
    images, labels = split.images[index], split.labels[index]  # fancy indexing: fresh arrays
    if blend.any() and split.masks is None:
        raise ValueError("the plan holds self-blends but the crops carry no face masks")
    alpha = np.zeros(images.shape[:3], np.float32) if alphas else None
    for i in np.flatnonzero(blend):
        images[i], a, _ = self_blend_hull(images[i], split.masks[index[i]], np.random.default_rng(int(seeds[i])))
        labels[i] = 1
        if alpha is not None:
            alpha[i] = a
    return (images, labels) if alpha is None else (images, labels, alpha)


def seam_known(plan: BatchPlan, labels: np.ndarray, sel: slice | np.ndarray) -> np.ndarray:
    """Which samples have a known seam map: online self-blends (their alpha) and reals (no seam).
    Offline fakes of the test set do not keep their masks, so they get no seam loss."""
    return plan.blend[sel] | (labels == 0)


def seam_target(alpha: np.ndarray) -> np.ndarray:
    """Face X-ray's boundary ``4 a (1 - a)``: 1 where two images were mixed half and half, 0 on
    pixels taken wholly from one of them (every pixel of a real face)."""
    a = np.asarray(alpha, np.float32)
    return 4.0 * a * (1.0 - a)
