"""Perturbation chain applied to whole test-set items (real or fake alike).

Every knob is recorded in the manifest's ``params`` so an audit can break accuracy down by
perturbation and draw robustness curves. Frame-level steps run in a fixed order (resize, blur,
noise, gamma, jpeg); H.264 CRF is applied when the clip is encoded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

JPEG_QUALITIES = (95, 75, 50, 30)
CRFS = (18, 23, 28, 35)
RESIZE_FACTORS = (0.75, 0.5, 0.35)
BLUR_SIGMAS = (0.8, 1.5, 2.5)
NOISE_SIGMAS = (3.0, 8.0)
GAMMAS = (0.7, 1.4)


@dataclass(frozen=True)
class Perturbation:
    """One item's perturbation settings; ``None`` means the step is off."""

    jpeg_quality: int | None = None
    crf: int = 18  # every clip is H.264-encoded; 18 is visually lossless and counts as "none"
    resize: float | None = None
    blur_sigma: float | None = None
    noise_sigma: float | None = None
    gamma: float | None = None

    def as_params(self) -> dict[str, float | int]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def is_clean(self) -> bool:
        return self == Perturbation()


def sample_perturbation(rng: np.random.Generator) -> Perturbation:
    """A clean item a quarter of the time, otherwise one or two steps from the grids above.

    Single steps dominate so robustness curves (AUC against one knob) have clean comparisons.
    """
    if rng.random() < 0.25:
        return Perturbation()
    kinds = ["jpeg_quality", "crf", "resize", "blur_sigma", "noise_sigma", "gamma"]
    chosen = rng.choice(kinds, size=1 if rng.random() < 0.75 else 2, replace=False)
    grids = {"jpeg_quality": JPEG_QUALITIES, "crf": CRFS, "resize": RESIZE_FACTORS, "blur_sigma": BLUR_SIGMAS,
             "noise_sigma": NOISE_SIGMAS, "gamma": GAMMAS}
    values = {str(k): grids[str(k)][int(rng.integers(len(grids[str(k)])))] for k in chosen}
    return Perturbation(**values)


def apply_frame(frame: np.ndarray, p: Perturbation, rng: np.random.Generator) -> np.ndarray:
    out = frame
    h, w = out.shape[:2]
    if p.resize is not None:
        small = cv2.resize(out, (max(2, round(w * p.resize)), max(2, round(h * p.resize))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if p.blur_sigma is not None:
        out = cv2.GaussianBlur(out, (0, 0), p.blur_sigma)
    if p.noise_sigma is not None:
        noise = rng.normal(0.0, p.noise_sigma, out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if p.gamma is not None:
        lut = np.clip(((np.arange(256) / 255.0) ** p.gamma) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        out = cv2.LUT(out, lut)
    if p.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(p.jpeg_quality)])
        if not ok:  # pragma: no cover - OpenCV always encodes uint8 BGR
            raise RuntimeError("JPEG encoding failed")
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out
