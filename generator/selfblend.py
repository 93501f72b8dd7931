"""Self-Blended Images (Shiohara & Yamasaki, CVPR 2022): pseudo-fakes made from one real face.

Why: a face swap pastes a generated face into a target frame, leaving a blending boundary whose
colour, sharpness and noise do not match the surroundings. Blending a face with a slightly
altered copy of itself reproduces exactly those boundary artifacts without any generator, so a
detector trained on them learns the boundary rather than one generator's fingerprint.

All randomness comes from the caller's ``np.random.Generator`` and every draw is returned in the
params dict, so a pseudo-fake can be rebuilt and a test set stays reproducible.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from fakescope.core.faces import hull_mask
from generator.blend import composite, shape_mask
from generator.colour import transfer_colour

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # as in the paper: full-strength blends are most common


def _odd(k: float) -> int:
    k = max(1, int(round(k)))
    return k if k % 2 == 1 else k + 1


def _colour_jitter(img: np.ndarray, rng: np.random.Generator, p: dict[str, Any]) -> np.ndarray:
    # magnitudes follow the paper's source transforms (RGB shift, HSV, brightness/contrast)
    p["rgb_shift"] = [float(v) for v in rng.uniform(-20, 20, size=3)]
    img = np.clip(img.astype(np.float32) + np.asarray(p["rgb_shift"], np.float32), 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
    p["hue_shift"] = float(rng.uniform(-8, 8))  # OpenCV hue units (0-180)
    p["sat_scale"] = float(rng.uniform(0.7, 1.3))
    p["val_shift"] = float(rng.uniform(-25, 25))
    hsv[..., 0] = np.mod(hsv[..., 0] + p["hue_shift"], 180.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * p["sat_scale"], 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + p["val_shift"], 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    p["contrast"] = float(rng.uniform(0.8, 1.2))
    p["brightness"] = float(rng.uniform(-25, 25))
    mean = out.mean(axis=(0, 1), keepdims=True)
    out = (out - mean) * p["contrast"] + mean + p["brightness"]
    return np.clip(out, 0, 255).astype(np.uint8)


def _frequency_jitter(img: np.ndarray, rng: np.random.Generator, p: dict[str, Any], face_w: float) -> np.ndarray:
    choice = int(rng.integers(0, 3))
    p["frequency"] = ("downscale", "blur", "sharpen")[choice]
    sigma = float(rng.uniform(0.4, 1.2)) * max(face_w / 128.0, 0.5)
    p["frequency_sigma"] = sigma
    if choice == 0:  # the paper's Downscale: lose detail as an upsampling generator does
        f = float(rng.uniform(0.25, 0.5))
        p["downscale"] = f
        h, w = img.shape[:2]
        small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    blurred = cv2.GaussianBlur(img, (0, 0), sigma)
    if choice == 1:
        return blurred
    amount = float(rng.uniform(0.5, 1.5))
    p["sharpen_amount"] = amount
    return cv2.addWeighted(img, 1 + amount, blurred, -amount, 0)


def _affine_jitter(img: np.ndarray, rng: np.random.Generator, p: dict[str, Any], centre: np.ndarray, face_w: float) -> np.ndarray:
    p["shift"] = [float(v) for v in rng.uniform(-0.03, 0.03, size=2) * face_w]
    p["scale"] = float(rng.uniform(0.95, 1.05))
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 0.0, p["scale"])
    m[:, 2] += p["shift"]
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def _deform_mask(mask: np.ndarray, rng: np.random.Generator, p: dict[str, Any], face_w: float,
                 feather: float | None = None) -> np.ndarray:
    """Random smooth warp, then erosion or dilation, then a Gaussian feather of random width."""
    h, w = mask.shape
    # smooth displacement field: coarse random grid upsampled, amplitude a few % of face width
    amp = float(rng.uniform(0.0, 0.04)) * face_w
    p["deform_amplitude"] = amp
    grid = rng.normal(size=(2, 4, 4)).astype(np.float32) * amp
    dx = cv2.resize(grid[0], (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(grid[1], (w, h), interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(mask, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    binary = (warped > 0.5).astype(np.uint8)

    morph = int(rng.integers(-1, 2))  # -1 erode, 0 none, 1 dilate
    k = _odd(float(rng.uniform(0.02, 0.08)) * face_w)
    p["morph"] = ("erode", "none", "dilate")[morph + 1]
    p["morph_kernel"] = k
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    if morph < 0:
        binary = cv2.erode(binary, kernel)
    elif morph > 0:
        binary = cv2.dilate(binary, kernel)

    # Gaussian feather with a finite kernel, so the blend's support is known exactly
    sigma = float(rng.uniform(0.01, 0.06)) * face_w
    if feather is not None:  # the caller's width (the draw above still happens: later draws stay put)
        sigma = max(float(feather) * face_w, 0.5)
    ksize = _odd(6 * sigma + 1)
    p["feather_sigma"] = sigma
    p["feather_kernel"] = ksize
    soft = cv2.GaussianBlur(binary.astype(np.float32), (ksize, ksize), sigma, borderType=cv2.BORDER_CONSTANT)
    soft[soft < 1e-3] = 0.0
    return np.clip(soft, 0.0, 1.0)


def self_blend(
    image_bgr: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, *, mask: str = "hull",
    erode: float = 0.0, feather: float | None = None, colour: str = "none", blend: str = "alpha",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Blend a face with an altered copy of itself inside a randomly deformed landmark hull.

    Works on an aligned crop or a full frame (landmarks in that image's pixels). Returns
    (blended BGR uint8, blend mask float32 in [0, 1], params). The mask is the alpha actually used:
    every pixel where it is 0 is bit-for-bit the input.

    The keywords are the test set's blending variety (generator.blend.sample_blend_params): the
    mask's shape before its random deformation (``erode``: fraction of the face size), a fixed
    feather width instead of a random one, a colour transfer of the altered copy back onto the
    face (which removes the colour seam and leaves the frequency and shape ones), and Poisson
    instead of alpha compositing. The defaults are the paper's recipe.
    """
    img = np.asarray(image_bgr)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"self_blend needs a BGR uint8 image (H, W, 3), got {img.dtype} {img.shape}")
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"self_blend needs 68x2 finite landmarks, got shape {lm.shape}")
    face_w = float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1]), 8.0))
    hull = hull_mask(lm, img.shape[:2]) if mask == "hull" else shape_mask(lm, img.shape[:2], mask)
    k = _odd(2 * erode * face_w) if erode > 0 else 0
    if k > 1:
        hull = cv2.erode(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return _blend(img, hull, face_w, lm.mean(axis=0), rng, feather=feather, colour=colour, blend=blend)


def self_blend_hull(
    image_bgr: np.ndarray, hull: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """:func:`self_blend` inside a given face hull mask instead of one drawn from landmarks.

    Why: the detector makes fresh pseudo-fakes from stored aligned crops every batch, and those
    carry the landmark hull (as a mask) but not the landmarks; the face's size and centre are
    taken from the hull itself.
    """
    img = np.asarray(image_bgr)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"self_blend_hull needs a BGR uint8 image (H, W, 3), got {img.dtype} {img.shape}")
    raw = np.asarray(hull)
    h = raw.astype(np.float32) / 255.0 if raw.dtype == np.uint8 else raw.astype(np.float32)
    if h.shape != img.shape[:2]:
        raise ValueError(f"hull mask {h.shape} does not match the image {img.shape[:2]}")
    ys, xs = np.nonzero(h > 0.5)
    if len(xs) < 16:
        raise ValueError("the hull mask is (nearly) empty; self-blending needs a face region")
    face_w = float(max(np.ptp(xs), np.ptp(ys), 8.0))
    return _blend(img, h, face_w, np.array([xs.mean(), ys.mean()]), rng)


def _blend(
    img: np.ndarray, hull: np.ndarray, face_w: float, centre: np.ndarray, rng: np.random.Generator,
    feather: float | None = None, colour: str = "none", blend: str = "alpha",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    p: dict[str, Any] = {}
    source = _colour_jitter(img, rng, p)
    source = _frequency_jitter(source, rng, p, face_w)
    source = _affine_jitter(source, rng, p, centre, face_w)
    if colour != "none":
        source = transfer_colour(source, img, hull, colour)  # type: ignore[arg-type]
        p["colour"] = colour

    mask = _deform_mask(hull, rng, p, face_w, feather)
    ratio = float(rng.choice(BLEND_RATIOS))
    p["blend_ratio"] = ratio
    mask = (mask * ratio).astype(np.float32)
    if blend != "alpha":
        p["blend"] = blend
        return composite(img, source, mask, blend), mask, p

    a = mask[..., None]
    mixed = a * source.astype(np.float32) + (1.0 - a) * img.astype(np.float32)
    out = np.where(a > 0, np.clip(np.round(mixed), 0, 255).astype(np.uint8), img)
    return out, mask, p
