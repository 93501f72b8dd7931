"""Colour transfer of a decoded face onto the scene's lighting.

Why: the decoder paints the target identity with the skin tone and light it saw in training;
pasted as is, the face shows a visible colour seam. Matching its statistics to the original
face (inside the face mask only, so hair and background do not count) removes most of the seam.
Reinhard's mean/std transfer in LAB is the robust default; histogram matching follows the
original more closely but can amplify decoder noise.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

ColourMode = Literal["reinhard", "histogram", "none"]


def _lab(img_bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img_bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB)


def _bgr(lab: np.ndarray) -> np.ndarray:
    out = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2BGR)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _select(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    sel = np.ones(shape[:2], bool) if mask is None else np.asarray(mask) > 0.5
    if sel.sum() < 16:  # too few pixels for statistics: use the whole crop
        sel = np.ones(shape[:2], bool)
    return sel


def reinhard_lab(source: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Give ``source`` (uint8 BGR) the per-channel LAB mean and std of ``reference`` inside ``mask``."""
    s, r = _lab(source), _lab(reference)
    sel = _select(mask, source.shape)
    ms, ss = s[sel].mean(0), s[sel].std(0) + 1e-6
    mr, sr = r[sel].mean(0), r[sel].std(0) + 1e-6
    ratio = np.clip(sr / ss, 0.5, 2.0)  # a bounded gain keeps one odd frame from blowing up contrast
    return _bgr((s - ms) * ratio + mr)


def histogram_match(source: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Map each LAB channel of ``source`` through the CDF of ``reference`` (statistics inside ``mask``)."""
    s, r = _lab(source), _lab(reference)
    sel = _select(mask, source.shape)
    out = np.empty_like(s)
    for c in range(3):
        sv, rv = np.sort(s[sel][:, c]), np.sort(r[sel][:, c])
        q = np.linspace(0.0, 1.0, len(sv))
        quant = np.interp(q, np.linspace(0.0, 1.0, len(rv)), rv)
        out[..., c] = np.interp(s[..., c], sv, quant)
    return _bgr(out)


def transfer_colour(source: np.ndarray, reference: np.ndarray, mask: np.ndarray | None, mode: ColourMode) -> np.ndarray:
    if mode == "reinhard":
        return reinhard_lab(source, reference, mask)
    if mode == "histogram":
        return histogram_match(source, reference, mask)
    if mode == "none":
        return source
    raise ValueError(f"unknown colour transfer {mode!r}; use 'reinhard', 'histogram' or 'none'")
