"""Training augmentation: a random geometric pose change shared by input and target, plus a
random grid warp applied to the input only.

Why the split: the pose change (rotate/zoom/shift/flip) makes more data and is applied to the
image, its mask and its landmarks together, so they always agree. The grid warp is the classic
deepfake trick: the network sees a *distorted* face and must paint the *undistorted* one, so it
cannot copy pixels through and has to learn what the identity looks like. That is what lets a
decoder paint its identity from another person's code at swap time.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Mirror image of each dlib 68 landmark: index i of a flipped face is point FLIP_68[i] of the original.
FLIP_68 = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 16, -1))  # brows
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46]  # left eye <- right eye
    + [39, 38, 37, 36, 41, 40]  # right eye <- left eye
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lip
    + [64, 63, 62, 61, 60, 67, 66, 65],  # inner lip
    dtype=np.int64,
)


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 10.0
    zoom: float = 0.05  # relative scale change, +-
    shift: float = 0.05  # fraction of the crop size, +-
    flip_p: float = 0.5
    warp_grid: int = 5  # control points per side of the random grid warp
    warp_std: float = 0.02  # grid-point displacement std, fraction of the crop size
    brightness: float = 0.08
    contrast: float = 0.1
    saturation: float = 0.15


@dataclass(frozen=True)
class AugmentedBatch:
    """float32 arrays in [0, 1]; images (N, H, W, 3) BGR, masks (N, H, W), landmarks (N, 68, 2)."""

    inputs: np.ndarray  # warped: what the network sees
    targets: np.ndarray  # unwarped: what it must paint
    masks: np.ndarray
    landmarks: np.ndarray


def random_affine(rng: np.random.Generator, size: int, cfg: AugmentConfig) -> tuple[np.ndarray, bool]:
    """A 2x3 crop->crop affine (rotation/zoom/shift about the centre, optional mirror) and the flip flag."""
    angle = rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
    scale = rng.uniform(1.0 - cfg.zoom, 1.0 + cfg.zoom)
    tx, ty = rng.uniform(-cfg.shift, cfg.shift, 2) * size
    flip = bool(rng.random() < cfg.flip_p)
    c = (size - 1) / 2.0
    m = cv2.getRotationMatrix2D((c, c), angle, scale)
    if flip:
        # x' = (size - 1) - x before the rotation: compose the mirror on the right.
        mirror = np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        m = m @ mirror
    m[:, 2] += (tx, ty)
    return m, flip


def transform_landmarks(landmarks: np.ndarray, matrix: np.ndarray, flipped: bool) -> np.ndarray:
    """Move landmarks with the image and, after a mirror, relabel them so point 36 is still the left eye corner."""
    lm = np.asarray(landmarks, np.float64) @ matrix[:, :2].T + matrix[:, 2]
    if flipped:
        lm = lm[FLIP_68]
    return lm.astype(np.float32)


def apply_affine(
    image: np.ndarray, mask: np.ndarray, landmarks: np.ndarray, matrix: np.ndarray, flipped: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    img = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    msk = cv2.warpAffine(mask, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return img, msk, transform_landmarks(landmarks, matrix, flipped)


def random_grid_warp(image: np.ndarray, rng: np.random.Generator, grid: int = 5, std: float = 0.02) -> np.ndarray:
    """Smoothly distort the image by jittering a coarse control grid and interpolating it bicubically."""
    h, w = image.shape[:2]
    offsets = rng.normal(0.0, std * max(h, w), size=(grid, grid, 2)).astype(np.float32)
    offsets[[0, -1], :, :] = 0.0  # pin the border so the warp never pulls in undefined pixels
    offsets[:, [0, -1], :] = 0.0
    dense = cv2.resize(offsets, (w, h), interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + dense[..., 0], ys + dense[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def colour_jitter(images: list[np.ndarray], rng: np.random.Generator, cfg: AugmentConfig) -> list[np.ndarray]:
    """Apply one random brightness/contrast/saturation change to every image given (float in [0, 1]).

    Input and target get the same change: the model should carry lighting through its code,
    not learn to undo it.
    """
    b = rng.uniform(-cfg.brightness, cfg.brightness)
    c = rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
    s = rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
    out = []
    for img in images:
        gray = img @ np.array([0.114, 0.587, 0.299], np.float32)  # BGR luma
        x = gray[..., None] + (img - gray[..., None]) * s
        x = (x - 0.5) * c + 0.5 + b
        out.append(np.clip(x, 0.0, 1.0, out=x))
    return out


def augment_batch(
    images: np.ndarray,
    masks: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig | None = None,
) -> AugmentedBatch:
    """Augment aligned faces: uint8 BGR images (N, S, S, 3), masks (N, S, S) in [0, 1] or uint8, landmarks (N, 68, 2)."""
    cfg = cfg or AugmentConfig()
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"augment_batch needs (N, S, S, 3) images, got shape {images.shape}")
    n, size = images.shape[0], images.shape[1]
    ins = np.empty((n, size, size, 3), np.float32)
    tgs = np.empty_like(ins)
    ms = np.empty((n, size, size), np.float32)
    lms = np.empty((n, 68, 2), np.float32)
    for i in range(n):
        mask = masks[i].astype(np.float32)
        if masks.dtype == np.uint8:
            mask /= 255.0
        m, flip = random_affine(rng, size, cfg)
        img, ms[i], lms[i] = apply_affine(images[i], mask, landmarks[i], m, flip)
        warped = random_grid_warp(img, rng, cfg.warp_grid, cfg.warp_std)
        target_f, input_f = colour_jitter([img.astype(np.float32) / 255.0, warped.astype(np.float32) / 255.0], rng, cfg)
        tgs[i], ins[i] = target_f, input_f
    return AugmentedBatch(inputs=ins, targets=tgs, masks=ms, landmarks=lms)
