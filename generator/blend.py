"""Pasting a changed face back into its frame, and the blending variety of the test set's fakes.

Why erode then feather: the landmark hull hugs the jaw line, where the decoded face is least
reliable and any misalignment shows as a hard edge. Eroding first pulls the seam inside the
face, feathering then spreads the transition over several pixels so no edge remains. Both are
done in crop space, in fractions of the crop size, so the result is resolution independent.
Only the face's bounding box of the frame is warped and blended: at 512x512 that is about a
third of the pixels.

Blending variety (:func:`sample_blend_params`): every face-changing test-set method (self-blends,
swaps, reconstructions, reenactment) draws its colour transfer (none, Reinhard, histogram), its
mask shape (:func:`shape_mask`: landmark hull, eroded hull, fitted ellipse, or only the
eyes-nose-mouth region), its feather width and alpha versus Poisson compositing per item, so a
detector cannot learn one pipeline's seam. The mask shapes live here and nowhere else.

Detail matching (:func:`upscale_with_detail`, faceswap's convert-stage sharpening): an
autoencoder's decoded face is much softer than the footage around it, which is the easiest thing
for a detector to learn and not what tools that sharpen their output leave. Unsharp masking the
decoded face, at a fixed face scale, until its detail is a chosen share of the original face's
takes that shortcut away (figures: docs/experiments.md).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

BlendMode = Literal["feather", "seamless"]
MaskShape = Literal["hull", "eroded_hull", "ellipse", "region"]
Composite = Literal["alpha", "poisson"]
DetailMode = Literal["sharpen", "transfer"]

MASK_SHAPES: tuple[MaskShape, ...] = ("hull", "eroded_hull", "ellipse", "region")
COLOUR_MODES = ("none", "reinhard", "histogram")
COMPOSITES: tuple[Composite, ...] = ("alpha", "poisson")
ERODE_CHOICES = (0.02, 0.04, 0.07)  # eroded_hull only; fractions of the face (or crop) size
FEATHER_CHOICES = (0.02, 0.04, 0.06, 0.09)  # Gaussian sigma, same units
# The "region" mask: eyes, nose and mouth (their hull grown by REGION_GROW about its centre, so the
# eyelids are inside), not the brows, cheeks or jaw line.
REGION_POINTS = np.r_[27:36, 36:48, 48:68]
REGION_GROW = 1.15
DETAIL_SIZE = 128  # face crop size at which detail is matched (the generator's sharpness figure is measured at 128 px)


def sample_blend_params(rng: np.random.Generator) -> dict[str, object]:
    """One item's blending: colour transfer, mask shape, erosion, feather width, alpha or Poisson."""
    shape = str(rng.choice(MASK_SHAPES))
    return {"colour": str(rng.choice(COLOUR_MODES)), "mask": shape,
            "erode": float(rng.choice(ERODE_CHOICES)) if shape == "eroded_hull" else 0.0,
            "feather": float(rng.choice(FEATHER_CHOICES)), "blend": str(rng.choice(COMPOSITES))}


def shape_mask(landmarks: np.ndarray, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """A face mask of ``kind`` (see MASK_SHAPES) as float32 in [0, 1] of ``shape`` (h, w).

    ``landmarks`` is one (68, 2) set or several (K, 68, 2) (e.g. a face before and after a
    warp; the mask then covers both). ``eroded_hull`` is the hull here; the erosion is
    :func:`blend_mask`'s ``erode``.
    """
    lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
    if kind in ("hull", "eroded_hull"):
        pts = lm.reshape(-1, 2)
    elif kind == "region":
        region = lm[:, REGION_POINTS]
        centre = region.mean(axis=1, keepdims=True)
        pts = (centre + (region - centre) * REGION_GROW).reshape(-1, 2)
    elif kind == "ellipse":
        pts = lm.reshape(-1, 2)
        mask = np.zeros(shape[:2], np.uint8)
        (cx, cy), (ax, ay), angle = cv2.fitEllipse(pts.astype(np.float32))
        # fitEllipse fits the jaw and brows; the forehead above the brows stays out, as with the hull
        cv2.ellipse(mask, ((cx, cy), (ax * 0.95, ay * 0.95), angle), 255, -1, lineType=cv2.LINE_AA)
        return mask.astype(np.float32) / 255.0
    else:
        raise ValueError(f"unknown mask shape {kind!r}; use one of {', '.join(MASK_SHAPES)}")
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 255, lineType=cv2.LINE_AA)
    return mask.astype(np.float32) / 255.0


def composite(dst: np.ndarray, src: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """``src`` over ``dst`` (same-size uint8 BGR) through the soft ``mask``.

    ``poisson`` first clones ``src`` into ``dst`` in the gradient domain (cv2.seamlessClone inside
    ``mask > 0.5``, so its colours meet the surroundings), then composites that through the same
    soft mask: every pixel where the mask is 0 is ``dst`` bit for bit, whatever the mode.
    """
    m = np.clip(mask.astype(np.float32), 0.0, 1.0)
    if mode == "poisson":
        src = _poisson(dst, src, m)
    elif mode != "alpha":
        raise ValueError(f"unknown composite {mode!r}; use 'alpha' or 'poisson'")
    a = m[..., None]
    mixed = (dst.astype(np.float32) + (src.astype(np.float32) - dst.astype(np.float32)) * a + 0.5).astype(np.uint8)
    return np.where(a > 0, mixed, dst)


def _poisson(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    binary = (mask > 0.5).astype(np.uint8) * 255
    binary[:3], binary[-3:], binary[:, :3], binary[:, -3:] = 0, 0, 0, 0  # seamlessClone needs a margin
    ys, xs = np.nonzero(binary)
    if len(xs) < 16:
        return src
    center = ((int(xs.min()) + int(xs.max()) + 1) // 2, (int(ys.min()) + int(ys.max()) + 1) // 2)
    try:
        return cv2.seamlessClone(np.ascontiguousarray(src), np.ascontiguousarray(dst), binary, center, cv2.NORMAL_CLONE)
    except cv2.error:
        return src  # degenerate mask: the alpha composite alone


def blend_mask(hull: np.ndarray, erode: float, feather: float, size: float | None = None) -> np.ndarray:
    """Eroded, Gaussian-feathered version of a mask (float32 in [0, 1]); ``erode``/``feather`` in
    fractions of ``size`` (default: the mask's height, i.e. the crop size of a square crop mask)."""
    size = hull.shape[0] if size is None else size
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


def laplacian_variance(image_bgr: np.ndarray, inside: np.ndarray) -> float:
    """Variance of the grey image's Laplacian where ``inside`` is set: how much fine detail there is."""
    lap = cv2.Laplacian(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY), cv2.CV_64F)
    return float(lap[inside].var()) if inside.any() else 0.0


def match_detail(face: np.ndarray, reference: np.ndarray, inside: np.ndarray, target: float,
                 sigma: float = 1.0, max_amount: float = 2.5) -> np.ndarray:
    """``face`` unsharp-masked so its detail inside ``inside`` is ``target`` x ``reference``'s.

    Both are uint8 BGR of one shape (the face as pasted and the frame region it replaces). A face
    already that sharp is returned as it is; a face too blurry to reach the target gets
    ``max_amount``. The amount is found by bisection (the Laplacian variance rises with it)."""
    if target <= 0 or face.shape != reference.shape or not inside.any():
        return face
    want = target * laplacian_variance(reference, inside)
    if laplacian_variance(face, inside) >= want:
        return face
    f = face.astype(np.float32)
    high = f - cv2.GaussianBlur(f, (0, 0), sigma)

    def sharpened(amount: float) -> np.ndarray:
        return np.clip(f + amount * high + 0.5, 0, 255).astype(np.uint8)

    lo, hi = 0.0, max_amount
    if laplacian_variance(sharpened(hi), inside) > want:
        for _ in range(8):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if laplacian_variance(sharpened(mid), inside) < want else (lo, mid)
    return sharpened(hi)


def upscale_with_detail(
    frame: np.ndarray, face: np.ndarray, mask: np.ndarray, region: np.ndarray, inverse: np.ndarray, target: float,
    mode: DetailMode = "sharpen", size: int = DETAIL_SIZE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A decoded crop brought to ``size`` px and sharpened there to ``target`` x the detail of the face it
    replaces (cut from ``frame`` at the same size). ``mode`` "sharpen": unsharp masking only;
    "transfer": first the replaced face's band finer than the decoder's pixels, then unsharp masking
    for what is still missing. "transfer" looks more natural but carries some of the replaced
    person's identity back (measured in docs/experiments.md), so the default is "sharpen".
    Returns the face, its blend mask and the new crop->frame affine, ready for :func:`paste_face`.

    Why at a fixed face scale: detail matched in the frame would be matched against sensor noise and
    compression at whatever resolution the video has, which a 64 px decoder cannot carry; sharpening
    to reach it over-sharpens, and the face still looks soft at a normal viewing scale."""
    k = size / face.shape[0]
    inv = np.asarray(inverse, np.float64).copy()
    inv[:, 2] += inv[:, :2] @ np.full(2, 0.5 / k - 0.5)  # cv2.resize keeps pixel centres, not corners, aligned
    inv[:, :2] /= k
    ref = cv2.warpAffine(frame, cv2.invertAffineTransform(inv), (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    up = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    inside = cv2.resize(region.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR) > 0.5
    if mode == "transfer" and k > 1:
        # The band above the decoder's resolution is empty in the upscaled face; take it from the
        # face being replaced (skin texture, sensor noise, compression), which the frame around
        # it shares. Some of the replaced person's identity comes with it (docs/experiments.md).
        r = ref.astype(np.float32)
        fine = r - cv2.GaussianBlur(r, (0, 0), 0.5 * k)
        up = np.clip(up.astype(np.float32) + fine + 0.5, 0, 255).astype(np.uint8)
    up = match_detail(up, ref, inside, target)
    return up, cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR), inv


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
