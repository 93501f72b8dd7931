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

from generator.blend import laplacian_variance


@dataclass(frozen=True)
class AugmentConfig:
    p: float = 0.3
    jpeg_quality: tuple[int, int] = (40, 95)
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    resize_factor: tuple[float, float] = (0.4, 0.9)
    jitter: float = 0.2  # brightness/contrast/saturation amplitude
    flip: bool = True
    defocus: float = 0.0  # probability of blurring what lies beyond the face (needs the face hull)
    defocus_sigma: tuple[float, float] = (1.0, 4.0)  # Gaussian sigma in crop pixels
    defocus_margin: tuple[float, float] = (0.08, 0.25)  # hull dilation kept sharp, in face widths
    match_detail: float = 0.0  # probability per real/fake pair of blurring the sharper to the other's face detail

    def __post_init__(self) -> None:
        if not 0.0 <= self.defocus <= 1.0:
            raise ValueError(f"defocus is a probability in [0, 1] (got {self.defocus}); e.g. 0.3, or 0 to turn it off")
        if not 0.0 <= self.match_detail <= 1.0:
            raise ValueError(f"match_detail is a probability in [0, 1] (got {self.match_detail}); e.g. 0.5, or 0 to turn it off")


def augment_crop(img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Randomly degrade one (S, S, 3) uint8 BGR crop; returns a new array of the same shape."""
    return _augment(img, rng, cfg)[0]


def _augment(
    img: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, hull: np.ndarray | None = None
) -> tuple[np.ndarray, bool]:
    """The augmented crop and whether it was mirrored (the only geometric change: a face mask
    must follow it; resizing, blur and JPEG leave the geometry alone). ``hull`` (the crop's face
    mask, unmirrored) enables the background defocus."""
    out = img
    if cfg.defocus > 0 and hull is not None and rng.random() < cfg.defocus:  # a scene property: first
        out = defocus_background(out, hull, rng, cfg)
    flipped = bool(cfg.flip and rng.random() < 0.5)
    if flipped:
        out = out[:, ::-1]
    if rng.random() < cfg.p:
        out = colour_jitter(out, rng, cfg.jitter)
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


def defocus_background(img: np.ndarray, hull: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Blur everything beyond a dilated face hull, as a shallow depth of field does.

    Why: in studio footage (the HDTF news clips) the face is in focus and the background is not,
    so the face looks sharper than its surroundings, more so than in any training identity. A
    detector that learnt "a face blurrier than its surroundings is pasted" then calls those reals
    very real and misses their self-blends. Defocusing the background, with a sharp margin around
    the landmark hull so the seam band is untouched, was meant to remove that shortcut (training
    applies it to reals and their online self-blends only, see detector.train._defocus_hulls).
    It did not help in our runs, so it is off by default; see docs/experiments.md.
    """
    m = (np.asarray(hull) > (127 if hull.dtype == np.uint8 else 0.5)).astype(np.uint8)
    ys, xs = np.nonzero(m)
    if len(xs) < 16:
        return img
    face_w = float(max(np.ptp(xs), np.ptp(ys), 8.0))
    k = 2 * int(round(rng.uniform(*cfg.defocus_margin) * face_w / 2)) + 1
    keep = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(np.float32)
    keep = cv2.GaussianBlur(keep, (0, 0), max(1.0, k / 4))[..., None]  # a soft focus fall-off
    blurred = cv2.GaussianBlur(np.ascontiguousarray(img), (0, 0), rng.uniform(*cfg.defocus_sigma))
    return np.clip(keep * img + (1.0 - keep) * blurred + 0.5, 0, 255).astype(np.uint8)


def colour_jitter(img: np.ndarray, rng: np.random.Generator, amp: float) -> np.ndarray:
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
    imgs: np.ndarray, masks: np.ndarray, cfg: AugmentConfig, seeds: np.ndarray, hulls: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``augment_batch`` with per-crop seeds that also mirrors each mask plane with its crop: the
    face mask of detectors that read it (``in_channels=4``), a blend alpha for the seam loss.
    ``hulls`` (the face masks) enable ``cfg.defocus``."""
    if not (len(seeds) == len(imgs) == len(masks)) or (hulls is not None and len(hulls) != len(imgs)):
        raise ValueError(f"got {len(imgs)} crops, {len(masks)} masks and {len(seeds)} seeds; pass one of each per crop")
    out_i, out_m = [], []
    for i, (im, m, s) in enumerate(zip(imgs, masks, seeds, strict=True)):
        a, flipped = _augment(im, np.random.default_rng(int(s)), cfg, None if hulls is None else hulls[i])
        out_i.append(a)
        out_m.append(np.ascontiguousarray(m[:, ::-1]) if flipped else m)
    return np.stack(out_i), np.stack(out_m)


MATCH_SIGMAS = (0.3, 0.45, 0.6, 0.8, 1.0, 1.25, 1.6, 2.0, 2.5, 3.2, 4.0)


def crop_detail(img: np.ndarray, hull: np.ndarray) -> float:
    """Laplacian variance of the crop inside its face hull (uint8 0-255 or float 0-1); 0 for an empty hull."""
    return laplacian_variance(np.ascontiguousarray(img), hull > (127 if hull.dtype == np.uint8 else 0.5))


def blur_to_detail(img: np.ndarray, hull: np.ndarray, target: float) -> np.ndarray:
    """The crop blurred by the smallest Gaussian (of ``MATCH_SIGMAS``) that brings its face detail
    down to ``target`` (the largest when none does)."""
    out = img
    for sigma in MATCH_SIGMAS:
        out = cv2.GaussianBlur(np.ascontiguousarray(img), (0, 0), sigma)
        if crop_detail(out, hull) <= target:
            break
    return out


def match_detail(imgs: np.ndarray, labels: np.ndarray, hulls: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Pair each real crop of the batch with a random fake one and, with probability ``p``, blur the
    sharper of the two (the whole crop) down to the other's face detail.

    Why: our fakes are softer than their reals (a decoder draws less detail than a camera), so a
    detector learns "soft face = fake"; third-party fakes are often sharper than the reals beside
    them, and any soft real upload gets flagged. Matched pairs carry no detail difference, so over
    training the face's absolute sharpness says nothing about the label; what differs inside a crop
    (a soft face in a sharp frame, a seam) is kept, because the whole crop is blurred.
    """
    reals, fakes = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    n = min(len(reals), len(fakes))
    if n == 0 or p <= 0:
        return imgs
    out = imgs.copy()
    for r, f in zip(rng.permutation(reals)[:n], rng.permutation(fakes)[:n], strict=True):
        if rng.random() >= p:
            continue
        dr, df = crop_detail(out[r], hulls[r]), crop_detail(out[f], hulls[f])
        sharp, target = (r, df) if dr > df else (f, dr)
        if 0 < target < max(dr, df):
            out[sharp] = blur_to_detail(out[sharp], hulls[sharp], target)
    return out
