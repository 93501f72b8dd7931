"""Pasting a swapped face crop back into its frame.

Why erode then feather: the landmark hull hugs the jaw line, where the decoded face is least
reliable and any misalignment shows as a hard edge. Eroding first pulls the seam inside the
face, feathering then spreads the transition over several pixels so no edge remains. Both are
done in crop space, in fractions of the crop size, so the result is resolution independent.
Only the face's bounding box of the frame is warped and blended: at 512x512 that is about a
third of the pixels.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

BlendMode = Literal["feather", "seamless"]


def blend_mask(hull: np.ndarray, erode: float, feather: float) -> np.ndarray:
    """Eroded, Gaussian-feathered version of a crop mask (float32 in [0, 1]); ``erode``/``feather`` in fractions of the crop size."""
    size = hull.shape[0]
    m = hull.astype(np.float32)
    k = int(round(erode * size))
    if k > 0:
        m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    sigma = feather * size
    if sigma > 0:
        m = cv2.GaussianBlur(m, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_CONSTANT)
        # The blur leaks mask outside the eroded hull; re-clip to the original hull so nothing
        # of the crop's background (which the decoder barely learns) is ever pasted.
        m = np.minimum(m, hull.astype(np.float32))
    return np.clip(m, 0.0, 1.0)


def roi_of(inverse: np.ndarray, size: int, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """Frame bounding box (x0, y0, x1, y1) of the crop square, clipped to the frame; None if outside."""
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    pts = corners @ inverse[:, :2].T + inverse[:, 2]
    h, w = frame_shape[:2]
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def paste_face(
    frame: np.ndarray,
    face: np.ndarray,
    mask: np.ndarray,
    inverse: np.ndarray,
    mode: BlendMode = "feather",
) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``face`` (crop, uint8 BGR) and ``mask`` (crop, float) back with ``inverse`` (crop->frame)
    and blend. Returns the new frame and the full-frame mask actually used."""
    out = frame.copy()
    full_mask = np.zeros(frame.shape[:2], np.float32)
    roi = roi_of(inverse, face.shape[0], frame.shape)
    if roi is None:
        return out, full_mask
    x0, y0, x1, y1 = roi
    a = inverse.copy()
    a[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    wface = cv2.warpAffine(face, a, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    wmask = cv2.warpAffine(mask.astype(np.float32), a, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    full_mask[y0:y1, x0:x1] = wmask
    if mode == "seamless":
        binary = (wmask > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(binary)
        if len(xs) >= 16:
            # seamlessClone wants the source at frame size; only the ROI is filled, the rest is unused.
            src = out.copy()
            src[y0:y1, x0:x1] = wface
            mfull = np.zeros(frame.shape[:2], np.uint8)
            mfull[y0:y1, x0:x1] = binary
            bx0, bx1, by0, by1 = xs.min() + x0, xs.max() + x0, ys.min() + y0, ys.max() + y0
            center = ((bx0 + bx1 + 1) // 2, (by0 + by1 + 1) // 2)
            try:
                return cv2.seamlessClone(src, out, mfull, center, cv2.NORMAL_CLONE), full_mask
            except cv2.error:
                pass  # mask touching the frame border: fall back to feathering
    elif mode != "feather":
        raise ValueError(f"unknown blend mode {mode!r}; use 'feather' or 'seamless'")
    region = out[y0:y1, x0:x1].astype(np.float32)
    m = wmask[..., None]
    out[y0:y1, x0:x1] = (region + (wface.astype(np.float32) - region) * m + 0.5).astype(np.uint8)
    return out, full_mask
