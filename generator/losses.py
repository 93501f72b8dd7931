"""Reconstruction and adversarial losses for the face-swap autoencoder.

Why these: L1 alone averages plausible faces into a blur; SSIM rewards local structure (edges of
eyes, teeth), so the pair is the classic deepfake recipe. The loss is weighted by a landmark map
because a viewer judges a swap by its eyes and mouth, and the background outside the face hull is
never pasted into the output frame, so it should cost almost nothing.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F

GanKind = Literal["lsgan", "hinge"]

# dlib 68-point indices.
_EYE_L = slice(36, 42)
_EYE_R = slice(42, 48)
_MOUTH = slice(48, 68)


@lru_cache(maxsize=8)
def _gauss_kernel(window: int, sigma: float) -> torch.Tensor:
    ax = torch.arange(window, dtype=torch.float32) - (window - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: torch.Tensor, window: int, sigma: float) -> torch.Tensor:
    c = x.shape[1]
    g = _gauss_kernel(window, sigma).to(x.dtype)
    pad = window // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, window), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, window, 1), groups=c)


def ssim_map(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM (N, 1, H, W), channel-averaged, for images in [0, 1].

    Computed in float32 even under bf16 autocast: the variance terms are differences of nearly
    equal numbers, and in bf16 they turn negative, the denominator crosses zero and the loss
    becomes -inf (seen on real faces after 3 steps).
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim_map needs two (N, C, H, W) tensors of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    window = min(window, x.shape[-1] - (1 - x.shape[-1] % 2), x.shape[-2] - (1 - x.shape[-2] % 2))
    with torch.autocast(device_type=x.device.type, enabled=False):  # autocast would run the blurs in bf16
        x, y = x.float(), y.float()
        c1, c2 = 0.01**2, 0.03**2
        # One blur over all five moment maps: two conv calls instead of ten (their fixed cost
        # dominates at these sizes, especially in the backward pass).
        c = x.shape[1]
        moments = _blur(torch.cat([x, y, x * x, y * y, x * y], 1), window, sigma)
        mx, my, exx, eyy, exy = moments.split(c, 1)
        sxx = (exx - mx * mx).clamp_min(0)
        syy = (eyy - my * my).clamp_min(0)
        sxy = exy - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean(1, keepdim=True)


def ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM per image (N,), optionally averaged only where ``mask`` (N, 1, H, W) is set."""
    s = ssim_map(x, y)
    if mask is None:
        return s.mean((1, 2, 3))
    m = mask.float()
    return (s * m).sum((1, 2, 3)) / m.sum((1, 2, 3)).clamp_min(1e-6)


def _scaled_hull(mask: np.ndarray, pts: np.ndarray, scale: float, value: float) -> None:
    c = pts.mean(0)
    p = np.round((pts - c) * scale + c).astype(np.int32)
    hull = cv2.convexHull(p)
    region = np.zeros_like(mask, dtype=np.uint8)
    cv2.fillConvexPoly(region, hull, 1)
    np.maximum(mask, region.astype(np.float32) * value, out=mask)


def region_weights(
    landmarks: np.ndarray,
    size: int,
    face_mask: np.ndarray | None = None,
    eyes: float = 3.0,
    mouth: float = 3.0,
    background: float = 0.05,
) -> np.ndarray:
    """Loss weight map (size, size) float32: background << face < eyes and mouth.

    Eye hulls are enlarged 1.8x because six points hug the lid line and would leave out the
    lashes and brows' shadow; the mouth hull 1.2x to keep the lip edge.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"region_weights needs (68, 2) dlib landmarks, got {lm.shape}")
    if face_mask is None:
        face = np.zeros((size, size), np.uint8)
        cv2.fillConvexPoly(face, cv2.convexHull(np.round(lm).astype(np.int32)), 1)
        face_mask = face.astype(np.float32)
    w = np.maximum(face_mask.astype(np.float32), background)
    _scaled_hull(w, lm[_EYE_L], 1.8, eyes)
    _scaled_hull(w, lm[_EYE_R], 1.8, eyes)
    _scaled_hull(w, lm[_MOUTH], 1.2, mouth)
    return w


def reconstruction_loss(
    pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, ssim_weight: float = 1.0
) -> torch.Tensor:
    """Weighted L1 + weighted DSSIM, each normalised by the total weight so scales stay comparable."""
    pred, target, w = pred.float(), target.float(), weights.float()
    norm = w.sum().clamp_min(1e-6)
    l1 = ((pred - target).abs().mean(1, keepdim=True) * w).sum() / norm
    dssim = ((1.0 - ssim_map(pred, target)) / 2.0 * w).sum() / norm
    return l1 + ssim_weight * dssim


def mask_loss(mask_logits: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(mask_logits.float(), target_mask.float())


def gan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: GanKind = "lsgan") -> torch.Tensor:
    real_logits, fake_logits = real_logits.float(), fake_logits.float()
    if kind == "lsgan":
        return 0.5 * (((real_logits - 1) ** 2).mean() + (fake_logits**2).mean())
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; use 'lsgan' or 'hinge'")


def gan_g_loss(fake_logits: torch.Tensor, kind: GanKind = "lsgan") -> torch.Tensor:
    fake_logits = fake_logits.float()
    if kind == "lsgan":
        return ((fake_logits - 1) ** 2).mean()
    if kind == "hinge":
        return -fake_logits.mean()
    raise ValueError(f"unknown GAN loss {kind!r}; use 'lsgan' or 'hinge'")


def feature_matching_loss(real_feats: list[torch.Tensor], fake_feats: list[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between the discriminator's activations of each fake and of its own real crop.

    The logit map (the last entry) is left out: the adversarial term already uses it. Each layer's
    distance is divided by the mean magnitude of its real activations, so deep layers with large
    activations do not drown the early, texture-level ones. Real activations are constants here.
    """
    if len(real_feats) != len(fake_feats) or len(real_feats) < 2:
        raise ValueError("feature_matching_loss needs the same discriminator layers (at least one besides the logits) for real and fake")
    total = torch.zeros(())
    for r, f in zip(real_feats[:-1], fake_feats[:-1], strict=True):
        r, f = r.detach().float(), f.float()
        if r.shape != f.shape:
            raise ValueError(f"feature maps differ in shape: {tuple(r.shape)} vs {tuple(f.shape)}")
        total = total + (f - r).abs().mean() / r.abs().mean().clamp_min(1e-6)
    return total / (len(real_feats) - 1)


def gan_ramp(step: int, start: int, ramp: int = 500) -> float:
    """0 before ``start``, then a linear ramp to 1: a sudden adversarial term wrecks early faces."""
    if step < start:
        return 0.0
    return min(1.0, (step - start + 1) / max(ramp, 1))
