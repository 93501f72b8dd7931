"""Training-time degradations of face crops.

Fakes in the wild are re-encoded, resized and filtered by every platform they pass through; a
detector that only ever saw pristine crops learns compression-fragile cues (and would be fooled by
a single JPEG pass). Each operation fires independently with probability ``p`` so the model also
sees clean crops. JPEG comes last because re-encoding is the last thing a platform does.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    p: float = 0.3
    jpeg_quality: tuple[int, int] = (40, 95)
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    resize_factor: tuple[float, float] = (0.4, 0.9)
    jitter: float = 0.2  # brightness/contrast/saturation amplitude
    flip: bool = True


def augment_crop(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Randomly degrade one (S, S, 3) uint8 BGR crop; returns a new array of the same shape."""
    return _augment(img, rng, cfg)[0]


def _augment(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[np.ndarray, bool]:
    """The augmented crop and whether it was mirrored (the only geometric change: a face mask
    must follow it; resizing, blur and JPEG leave the geometry alone)."""
    out = img
    flipped = bool(cfg.flip and rng.random() < 0.5)
    if flipped:
        out = out[:, ::-1]
    if rng.random() < cfg.p:
        out = _colour_jitter(out, rng, cfg.jitter)
    if rng.random() < cfg.p:
        h, w = out.shape[:2]
        f = rng.uniform(*cfg.resize_factor)
        small = cv2.resize(out, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < cfg.p:
        out = cv2.GaussianBlur(np.ascontiguousarray(out), (0, 0), rng.uniform(*cfg.blur_sigma))
    if rng.random() < cfg.p:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(out), [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(out), flipped


def _colour_jitter(img: np.ndarray, rng: np.random.Generator, amp: float) -> np.ndarray:
    x = img.astype(np.float32)
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(1 - amp, 1 + amp)  # saturation
    x = (x - x.mean()) * rng.uniform(1 - amp, 1 + amp) + x.mean()  # contrast
    x = x * rng.uniform(1 - amp, 1 + amp)  # brightness
    return np.clip(x, 0, 255).astype(np.uint8)


def augment_batch(
    imgs: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, seeds: np.ndarray | None = None
) -> np.ndarray:
    """Augment each crop; with ``seeds`` crop i draws from its own generator seeded by ``seeds[i]``,
    so a sample's augmentation does not depend on which process or batch slice augments it."""
    if seeds is None:
        return np.stack([augment_crop(im, rng, cfg) for im in imgs])
    if len(seeds) != len(imgs):
        raise ValueError(f"augment_batch got {len(seeds)} seeds for {len(imgs)} crops; pass one seed per crop")
    return np.stack([augment_crop(im, np.random.default_rng(int(s)), cfg) for im, s in zip(imgs, seeds, strict=True)])


def augment_batch_with_masks(
    imgs: np.ndarray, masks: np.ndarray, cfg: AugmentConfig, seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``augment_batch`` with per-crop seeds that also mirrors each face mask with its crop, for
    detectors that read the mask (registered with ``in_channels=4``)."""
    if not (len(seeds) == len(imgs) == len(masks)):
        raise ValueError(f"got {len(imgs)} crops, {len(masks)} masks and {len(seeds)} seeds; pass one of each per crop")
    out_i, out_m = [], []
    for im, m, s in zip(imgs, masks, seeds, strict=True):
        a, flipped = _augment(im, np.random.default_rng(int(s)), cfg)
        out_i.append(a)
        out_m.append(np.ascontiguousarray(m[:, ::-1]) if flipped else m)
    return np.stack(out_i), np.stack(out_m)
