"""Expression reenactment: another person's mouth and jaw motion drives the target's lower face.

No identity changes hands: the target's own face is warped so its lower face follows the
driver, the way landmark-driven reenactment (Face2Face-style puppetry without the 3-D model)
moves a face. Per frame:

1. Normalise. Each face's landmarks are mapped into one canonical frame (generator.synthetic's
   mean shape) by the similarity that best aligns the points speech and blinks do not move
   (:data:`STABLE`: nose bridge and base, eye corners). Head roll, size and position drop out.
2. Expression delta. The driver's canonical mouth minus its resting shape (:func:`rest_shape`:
   its most closed-mouthed frames), less the sideways drift a head turn causes, with the chin
   and jaw line following the lower lip (:func:`expression_delta`), is its expression; it is
   smoothed over time (EMA or a one-euro filter, so landmark jitter does not become lip tremor)
   and scaled by ``gain``.
3. Transfer. The target's resting mouth plus that delta (shifted sideways as the target's own
   head turn shifts its mouth), and the target's own jaw line with its own chin motion swapped
   for the driver's, taken back into each target frame by the inverse of the target's own
   normalisation (its head pose), is where the target's lower face should be. The upper face
   stays where it is.
4. Warp. The target frame is warped so its landmarks land there: piecewise affine over a
   Delaunay mesh or a thin-plate spline (generator.meshwarp), inside the face's box only.
5. Inner mouth. Where the new mouth opens wider than the target's did in that frame, the warp
   only stretches lips into the gap, so the inner-mouth polygon is filled: a dark shaded mouth
   interior with a teeth band (``shade``), the inner mouth of the target's own most open frame
   of the clip warped into place (``own_frame``), or the driver's own mouth of that frame
   (``driver``: another person's teeth, brightened toward the target's light).
6. Re-blend the warped face into the original frame with the item's blending
   (generator.blend.sample_blend_params: colour transfer, mask shape, feather, alpha or Poisson).

Every knob is in the params dict the test set records; the driver's landmark track is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from fakescope.core.faces import similarity_transform
from generator.blend import blend_mask, composite, shape_mask
from generator.colour import transfer_colour
from generator.meshwarp import Roi, border_points, pwa_maps, remap_region, roi_around, warp_maps
from generator.synthetic import MEAN_SHAPE

# Nose bridge and base, eye corners: what speech, smiles and blinks barely move.
STABLE = np.r_[27:32, 33, 35, 36, 39, 42, 45]
MOUTH = np.r_[48:68]
JAW = np.r_[3:14]
# How much of the lower lip's vertical motion each jaw point (3..13) follows: all of it at the
# chin, little at the lower cheeks. 2-D jaw-line landmarks are a silhouette that slides with every
# turn of the head, so their own deltas are mostly yaw, not expression.
JAW_FOLLOW = np.array([0.15, 0.3, 0.5, 0.75, 0.9, 1.0, 0.9, 0.75, 0.5, 0.3, 0.15])
# Brows and eyelids (animation only): the eye corners are STABLE points, which carry the head pose
EYELIDS = (np.array([37, 38, 40, 41]), np.array([43, 44, 46, 47]))
INNER_MOUTH = np.r_[60:68]
_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # inner upper lip / inner lower lip
_OUTER_PAIRS = ((50, 61, 58, 67), (51, 62, 57, 66), (52, 63, 56, 65))  # outer upper, inner upper, outer lower, inner lower
TEMPLATE = MEAN_SHAPE.astype(np.float64)  # canonical frame: about one unit per face width
FPS = 25.0  # test-set clips are written at 25 fps; the one-euro filter's cut-offs are in Hz

# Temporal smoothing of the expression (canonical units, about one per face width; the one-euro
# filter's ``beta`` is per unit/s, so it suits these units, not pixels).
SMOOTHINGS = ({"kind": "ema", "alpha": 0.7}, {"kind": "ema", "alpha": 0.5},
              {"kind": "one_euro", "min_cutoff": 1.0, "beta": 20.0}, {"kind": "one_euro", "min_cutoff": 2.0, "beta": 10.0})
GAINS = (0.8, 1.0, 1.25)
WARPS = ("pwa", "tps")
MOUTH_FILLS = ("shade", "own_frame", "driver")
MIN_OWN_OPENING = 0.12  # inner-lip gap / inter-ocular distance an ``own_frame`` source mouth needs


def homogeneous(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return np.asarray(pts, np.float64) @ m[:, :2].T + m[:, 2]


def to_canonical(landmarks: np.ndarray) -> np.ndarray:
    """2x3 similarity taking a face's frame landmarks into the canonical frame (by its STABLE points)."""
    return similarity_transform(np.asarray(landmarks, np.float64)[STABLE], TEMPLATE[STABLE])


def canonical(landmarks: np.ndarray) -> np.ndarray:
    return apply_affine(to_canonical(landmarks), landmarks)


def fill_gaps(track: Sequence[np.ndarray | None]) -> np.ndarray:
    """(n, 68, 2) float64 with each missing frame taken from the nearest frame that has landmarks."""
    have = [i for i, lm in enumerate(track) if lm is not None]
    if not have:
        raise ValueError("a landmark track without a single face")
    out = np.empty((len(track), 68, 2))
    for i in range(len(track)):
        j = min(have, key=lambda k: (abs(k - i), k))
        out[i] = np.asarray(track[j], np.float64)
    return out


def inter_ocular(lm: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(lm)[36] - np.asarray(lm)[45])) + 1e-6


def mouth_opening(lm: np.ndarray) -> float:
    """Mean inner-lip gap over the inter-ocular distance (0 closed, about 0.3 wide open)."""
    lm = np.asarray(lm, np.float64)
    gap = np.mean([np.linalg.norm(lm[a] - lm[b]) for a, b in _LIP_PAIRS])
    return float(gap / inter_ocular(lm))


def smooth(seq: np.ndarray, spec: dict[str, Any], fps: float = FPS) -> np.ndarray:
    """Causal temporal smoothing along axis 0: ``ema`` (``alpha``: weight of the new frame) or a
    one-euro filter (Casiez et al., CHI 2012: ``min_cutoff`` Hz, ``beta`` speed coefficient)."""
    x = np.asarray(seq, np.float64)
    out = np.empty_like(x)
    out[0] = x[0]
    kind = spec.get("kind", "none")
    if kind == "none":
        return x.copy()
    if kind == "ema":
        a = float(spec["alpha"])
        for t in range(1, len(x)):
            out[t] = a * x[t] + (1 - a) * out[t - 1]
        return out
    if kind == "one_euro":
        def alpha(cutoff: np.ndarray | float) -> np.ndarray | float:
            tau = 1.0 / (2 * np.pi * cutoff)
            return 1.0 / (1.0 + tau * fps)

        d_cut, min_cut, beta = 1.0, float(spec["min_cutoff"]), float(spec["beta"])
        dx = np.zeros_like(x[0])
        for t in range(1, len(x)):
            raw_d = (x[t] - out[t - 1]) * fps
            dx = dx + alpha(d_cut) * (raw_d - dx)
            cut = min_cut + beta * np.abs(dx)
            a = alpha(cut)
            out[t] = out[t - 1] + a * (x[t] - out[t - 1])
        return out
    raise ValueError(f"unknown smoothing {kind!r}; use 'ema', 'one_euro' or 'none'")


def sample_reenact_params(rng: np.random.Generator) -> dict[str, Any]:
    """The reenactment's own knobs (the blending and the driver are drawn by the caller)."""
    return {"smoothing": dict(SMOOTHINGS[int(rng.integers(len(SMOOTHINGS)))]), "gain": float(rng.choice(GAINS)),
            "warp": str(rng.choice(WARPS)), "mouth_fill": str(rng.choice(MOUTH_FILLS))}


def fix_lips(c: np.ndarray) -> None:
    """Keep a canonical mouth physical: inner lips never cross, outer lips stay outside the inner."""
    for a, b in _LIP_PAIRS:
        if c[b, 1] < c[a, 1]:
            c[a, 1] = c[b, 1] = 0.5 * (c[a, 1] + c[b, 1])
    for ou, iu, ol, il in _OUTER_PAIRS:
        c[ou, 1] = min(c[ou, 1], c[iu, 1] - 1e-3)
        c[ol, 1] = max(c[ol, 1], c[il, 1] + 1e-3)


def expression_delta(canon: np.ndarray, reference: np.ndarray, upper: np.ndarray | None = None) -> np.ndarray:
    """Expression of canonical landmarks ``canon`` (..., 68, 2) relative to ``reference`` (68, 2).

    The mouth's own motion without its sideways drift (a turn of the head slides the whole mouth
    sideways, an expression does not) and the jaw line following the lower lip (:data:`JAW_FOLLOW`);
    with ``upper`` (a reference for the brows and eyelids, e.g. the clip's median shape: open
    eyes) also their motion (blinks, raised brows). Every other point (the eye corners and nose,
    which carry the head pose): 0.
    """
    raw = np.asarray(canon, np.float64) - np.asarray(reference, np.float64)
    out = np.zeros_like(raw)
    mouth = raw[..., MOUTH, :].copy()
    mouth[..., 0] -= mouth[..., 0].mean(-1, keepdims=True)
    out[..., MOUTH, :] = mouth
    lower_lip = raw[..., [56, 57, 58], 1].mean(-1)
    out[..., JAW, 1] = lower_lip[..., None] * JAW_FOLLOW
    if upper is not None:
        raw_up = np.asarray(canon, np.float64) - np.asarray(upper, np.float64)
        for part in (np.r_[17:22], np.r_[22:27], *EYELIDS):
            d = raw_up[..., part, :].copy()
            d[..., 0] -= d[..., 0].mean(-1, keepdims=True)
            out[..., part, :] = d
    return out


def rest_shape(canon: np.ndarray, fraction: float = 0.2) -> np.ndarray:
    """A clip's resting face: the mean canonical shape of its most closed-mouthed frames (``fraction`` of them).

    Why not the clip's mean shape: a talker's mean mouth is half open, a listener's closed;
    transferring motion about the means would map one's half-open onto the other's closed and
    squeeze every closure of the driver into lips pressed through each other. About the rest
    shapes, the driver's mouth opening becomes the target's opening.
    """
    canon = np.asarray(canon, np.float64)
    opening = np.array([mouth_opening(c) for c in canon])
    k = max(1, int(round(fraction * len(canon))))
    return canon[np.argsort(opening, kind="stable")[:k]].mean(0)


def driven_landmarks(target: np.ndarray, driver: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Target landmarks (n, 68, 2) with the lower face moved by the driver's expression (n', 68, 2).

    Frame i of the target takes frame ``i mod n'`` of the driver.
    """
    tgt = np.asarray(target, np.float64)
    drv = np.asarray(driver, np.float64)
    drv_c = np.stack([canonical(lm) for lm in drv])
    delta = smooth(expression_delta(drv_c, rest_shape(drv_c)), params.get("smoothing", {"kind": "none"}))
    gain = float(params.get("gain", 1.0))
    mats = [to_canonical(lm) for lm in tgt]
    tgt_c = np.stack([apply_affine(m, lm) for m, lm in zip(mats, tgt, strict=True)])
    neutral = rest_shape(tgt_c)
    own = expression_delta(tgt_c, neutral)  # the target's own mouth motion, which the driver's replaces
    out = np.empty_like(tgt)
    for i, (m, c) in enumerate(zip(mats, tgt_c, strict=True)):
        d = gain * delta[i % len(drv)]
        new = c.copy()
        # the mouth: the target's resting mouth moved by the driver, where the target's head turn puts it
        new[MOUTH] = neutral[MOUTH] + d[MOUTH]
        new[MOUTH, 0] += (c[MOUTH, 0] - neutral[MOUTH, 0]).mean()
        # the jaw line: the target's own silhouette (it follows his head turns), less his chin's
        # motion with his own mouth, plus the chin motion of the driver's
        new[JAW] = c[JAW] - own[i][JAW] + d[JAW]
        fix_lips(new)
        out[i] = apply_affine(cv2.invertAffineTransform(m), new)
    return out


def most_open_frame(landmarks: Sequence[np.ndarray | None]) -> tuple[int, float]:
    """Index and opening of the frame whose mouth is open widest (the ``own_frame`` mouth source)."""
    best = (-1, -1.0)
    for i, lm in enumerate(landmarks):
        if lm is not None:
            o = mouth_opening(lm)
            if o > best[1]:
                best = (i, o)
    return best


def _polygon_mask(pts: np.ndarray, shape: tuple[int, int], feather: float) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    out = m.astype(np.float32) / 255.0
    if feather > 0:
        out = cv2.GaussianBlur(out, (0, 0), feather)
    return out


def lips_colour(image: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """Mean BGR of the lips: inside the outer lip line (landmarks 48-59) and outside the inner (60-67)."""
    shape = (image.shape[0], image.shape[1])
    lips = np.asarray(lips, np.float64)
    ring = (_polygon_mask(lips[:12], shape, 0) > 0.5) & (_polygon_mask(lips[12:], shape, 0) < 0.5)
    return image[ring].mean(0) if ring.any() else np.array([90.0, 90.0, 150.0])


def shade_mouth(roi_img: np.ndarray, inner: np.ndarray, reference: np.ndarray, ref_lips: np.ndarray) -> np.ndarray:
    """A mouth interior drawn into the inner-lip polygon ``inner`` (roi pixels): dark, lip-tinted,
    darker towards the back, with a soft teeth band under the upper lip."""
    h, w = roi_img.shape[:2]
    lip_colour = lips_colour(reference, ref_lips)
    x0, y0 = np.floor(inner.min(0)).astype(int)
    x1, y1 = np.ceil(inner.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0 - 2, 0), max(y0 - 2, 0), min(x1 + 3, w), min(y1 + 3, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return roi_img
    width = float(np.linalg.norm(inner[4] - inner[0])) + 1e-6  # 64 - 60: mouth corner to corner
    gap = float(np.mean([np.linalg.norm(inner[a - 60] - inner[b - 60]) for a, b in _LIP_PAIRS]))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    # teeth: a band of about a third of the opening (at most 12% of the mouth width) under the upper lip
    upper = inner[:5][np.argsort(inner[:5, 0])]  # 60-64, corner to corner along the upper lip
    upper_y = np.interp(xs, upper[:, 0], upper[:, 1])
    band = min(0.35 * gap, 0.12 * width)
    centre_x = 0.5 * (inner[0, 0] + inner[4, 0])
    across = np.clip(1.0 - np.abs(xs - centre_x) / (0.42 * width), 0.0, 1.0)
    teeth = np.clip((upper_y + band - ys) / max(band * 0.35, 1.0), 0.0, 1.0) * np.sqrt(across)
    depth = np.clip(1.0 - np.abs(xs - centre_x) / (0.5 * width), 0.0, 1.0)
    dark = lip_colour * 0.22 * (1.0 - 0.5 * depth[..., None])
    teeth_colour = np.array([200.0, 205.0, 210.0]) * (0.55 + 0.25 * across[..., None])
    fill = dark * (1 - teeth[..., None]) + teeth_colour * teeth[..., None]
    fill = cv2.GaussianBlur(fill.astype(np.float32), (0, 0), max(0.6, 0.01 * width))
    m = _polygon_mask(inner - (x0, y0), (y1 - y0, x1 - x0), max(0.6, 0.015 * width))[..., None]
    out = roi_img.copy()
    patch = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(patch * (1 - m) + fill * m + 0.5, 0, 255).astype(np.uint8)
    return out


def own_mouth(roi_img: np.ndarray, inner: np.ndarray, source: np.ndarray, source_inner: np.ndarray) -> np.ndarray:
    """The inner mouth of ``source`` (inner-lip polygon ``source_inner``, source pixels) warped into
    ``inner`` (roi pixels) and blended in with a soft polygon mask."""
    h, w = roi_img.shape[:2]
    src_pts = np.vstack([source_inner, source_inner.mean(0)])
    dst_pts = np.vstack([inner, inner.mean(0)])
    x0, y0 = np.floor(inner.min(0)).astype(int) - 3
    x1, y1 = np.ceil(inner.max(0)).astype(int) + 4
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return roi_img
    # one affine per fan triangle around the centre, fitted in roi pixels
    fan = np.array([[i, (i + 1) % 8, 8] for i in range(8)], np.int32)
    maps = pwa_maps(src_pts, dst_pts, (x0, y0, x1, y1), fan, step=1)
    patch = cv2.remap(source, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    width = float(np.linalg.norm(inner[4] - inner[0])) + 1e-6
    m = _polygon_mask(inner - (x0, y0), (y1 - y0, x1 - x0), max(0.6, 0.015 * width))[..., None]
    out = roi_img.copy()
    base = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(base * (1 - m) + patch.astype(np.float32) * m + 0.5, 0, 255).astype(np.uint8)
    return out


def _area(poly: np.ndarray) -> float:
    return float(abs(cv2.contourArea(np.asarray(poly, np.float32))))


def needs_mouth_fill(old: np.ndarray, new: np.ndarray) -> bool:
    """Does the new inner mouth open clearly wider than the frame's own (so the warp only stretched lips)?"""
    iod = inter_ocular(old)
    return _area(new[INNER_MOUTH]) > 1.3 * _area(old[INNER_MOUTH]) + 0.004 * iod * iod


def reenact_frame(frame: np.ndarray, old: np.ndarray, new: np.ndarray, params: dict[str, Any],
                  mouth_source: tuple[np.ndarray, np.ndarray] | None = None,
                  lent_mouth: MouthPatch | None = None) -> np.ndarray:
    """Warp ``frame``'s face from landmarks ``old`` to ``new``, fill the inner mouth, re-blend.

    ``mouth_source``: (frame, its landmarks) whose inner mouth ``own_frame`` uses; ``lent_mouth``:
    the driver's mouth of this frame, which ``driver`` uses; without the one the fill asks for,
    the mouth is shaded.
    """
    old = np.asarray(old, np.float64)
    new = np.asarray(new, np.float64)
    both = np.vstack([old, new])
    roi = roi_around(both, frame.shape, 0.2)
    x0, y0, x1, y1 = roi
    fixed = border_points(roi, 4)
    maps = warp_maps(np.vstack([old, fixed]), np.vstack([new, fixed]), roi, params.get("warp", "pwa"))
    warped = remap_region(frame, maps, roi)[y0:y1, x0:x1]
    orig = frame[y0:y1, x0:x1]
    off = np.array([x0, y0], np.float64)
    if needs_mouth_fill(old, new):
        fill = params.get("mouth_fill")
        if fill == "own_frame" and mouth_source is not None:
            src_frame, src_lm = mouth_source
            warped = own_mouth(warped, new[INNER_MOUTH] - off, src_frame, np.asarray(src_lm, np.float64)[INNER_MOUTH])
        elif fill == "driver" and lent_mouth is not None:
            warped = driver_mouth(warped, new[INNER_MOUTH] - off, lent_mouth, lips_colour(orig, old[48:68] - off))
        else:
            warped = shade_mouth(warped, new[INNER_MOUTH] - off, orig, old[48:68] - off)
    return _reblend(frame, orig, warped, old - off, new - off, roi, params)


def _reblend(frame: np.ndarray, orig: np.ndarray, warped: np.ndarray, old: np.ndarray, new: np.ndarray,
             roi: Roi, params: dict[str, Any]) -> np.ndarray:
    x0, y0, x1, y1 = roi
    face = float(max(np.ptp(new[:, 0]), np.ptp(new[:, 1]), 8.0))
    hard = shape_mask(np.stack([old, new]), orig.shape, params.get("mask", "hull"))
    soft = blend_mask(hard, float(params.get("erode", 0.0)), float(params.get("feather", 0.04)), size=face)
    warped = transfer_colour(warped, orig, hard, params.get("colour", "none"))
    out = frame.copy()
    out[y0:y1, x0:x1] = composite(orig, warped, soft, params.get("blend", "alpha"))
    return out


def reenact_clip(frames: Sequence[np.ndarray], landmarks: Sequence[np.ndarray | None], driver: np.ndarray,
                 params: dict[str, Any], driver_mouths: Sequence[MouthPatch | None] = (),
                 ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Reenact a clip: returns the frames and their new landmarks (None where the target had no face).

    ``driver``: the driver's landmark track (n, 68, 2), gaps filled (:func:`fill_gaps`);
    ``driver_mouths``: its mouth in each of those frames (:func:`mouth_patch`), for ``mouth_fill: driver``.
    """
    fill = params.get("mouth_fill", "shade")
    if fill not in MOUTH_FILLS:
        raise ValueError(f"unknown mouth_fill {fill!r} for reenact; choose from {', '.join(MOUTH_FILLS)}")
    have = [i for i, lm in enumerate(landmarks) if lm is not None]
    if not have:
        return list(frames), list(landmarks)
    moved = driven_landmarks(np.stack([np.asarray(landmarks[i], np.float64) for i in have]),
                             np.asarray(driver, np.float64)[have] if len(driver) >= len(frames) else driver, params)
    mouth_source = None
    k = params.get("mouth_frame")
    if fill == "own_frame" and k is not None and landmarks[int(k)] is not None:
        mouth_source = (frames[int(k)], np.asarray(landmarks[int(k)], np.float64))
    out_frames, out_lms = list(frames), list(landmarks)
    whole = len(driver) >= len(frames)  # driver frame i drives target frame i; else the driver loops
    for j, i in enumerate(have):
        d = i if whole else j % len(driver)
        lent = driver_mouths[d] if fill == "driver" and d < len(driver_mouths) else None
        out_frames[i] = reenact_frame(frames[i], np.asarray(landmarks[i], np.float64), moved[j], params, mouth_source,
                                      lent)
        out_lms[i] = moved[j].astype(np.float32)
    return out_frames, out_lms


@dataclass(frozen=True)
class MouthPatch:
    """A real frame's open mouth (teeth, tongue, the dark behind them) cut out with its lips, kept so
    an animated still can show a real mouth where the driver opens one (``mouth_fill: driver``)."""

    image: np.ndarray = field(repr=False)  # uint8 crop around the lips
    inner: np.ndarray = field(repr=False)  # (8, 2) inner-lip polygon, crop pixels
    lips: np.ndarray = field(repr=False)  # (3,) mean BGR of the lips (lips_colour)


MIN_DRIVER_OPENING = 0.06  # inner-lip gap / inter-ocular distance below which a mouth has no interior to lend


def mouth_patch(frame: np.ndarray, landmarks: np.ndarray, margin: float = 0.3) -> MouthPatch | None:
    """The mouth of ``frame`` (a crop around landmarks 48-67), or None where it is too closed to show an interior."""
    lm = np.asarray(landmarks, np.float64)
    if mouth_opening(lm) < MIN_DRIVER_OPENING:
        return None
    mouth = lm[MOUTH]
    pad = margin * float(np.ptp(mouth[:, 0]))
    h, w = frame.shape[:2]
    x0, y0 = np.floor(np.maximum(mouth.min(0) - pad, 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(mouth.max(0) + pad, (w - 1, h - 1))).astype(int) + 1
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
    local = mouth - (x0, y0)
    return MouthPatch(crop, local[12:].copy(), lips_colour(crop, local))


def driver_mouth(image: np.ndarray, inner: np.ndarray, patch: MouthPatch, lips: np.ndarray) -> np.ndarray:
    """``patch``'s inner mouth warped into the polygon ``inner`` (image pixels), brightened or darkened
    halfway toward the receiving face's light (its lips' brightness ``lips`` against the patch's):
    a real mouth interior, as animators that render the mouth leave one. One gain for all channels
    and only halfway, because a per-channel or full match turns teeth green or burns them white."""
    ratio = float(np.mean(lips)) / max(float(np.mean(patch.lips)), 1.0)
    gain = float(np.clip(np.sqrt(ratio), 0.8, 1.25))
    src = np.clip(patch.image.astype(np.float64) * gain + 0.5, 0, 255).astype(np.uint8)
    return own_mouth(image, np.asarray(inner, np.float64), src, patch.inner)
