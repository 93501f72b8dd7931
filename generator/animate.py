"""Still-image animation: one frame of the target moved by a driving clip's landmarks.

The output has the still's identity and background and the driver's head motion and expression,
the way single-image animators (first-order-motion / thin-plate-spline motion models) move a
portrait, with landmarks in place of learnt keypoints. Per output frame j:

- Head pose: the driver's similarity transform from its first frame to frame j (fitted on the
  :data:`generator.reenact.STABLE` points), carried into the still's coordinates through both
  faces' canonical normalisations, so a nod of a small face in a wide shot becomes a nod of the
  same angle and relative size on the still's face.
- Expression: the driver's canonical mouth minus that of its resting (most closed-mouthed)
  frames, its brows and eyelids minus their median (generator.reenact.expression_delta: no
  sideways drift, the jaw follows the lower lip), added to the still's canonical landmarks: the
  still plays the driver at rest.
- Warp: the whole image is warped (thin-plate spline or piecewise affine, generator.meshwarp)
  from the still's landmarks to the driven ones. A ring of points around the head (hair, ears,
  the top of the neck) moves rigidly with the head pose, so the background near the head moves
  with it; a wider ring and the warp region's border stay put, so everything beyond them is the
  still's pixels exactly. There is no paste, seam or blending: every pixel is the still's,
  moved. Only where the driver opens the mouth wider than the still's is the gap filled, since a
  warp has nothing to show there (``mouth_fill``): ``driver`` pastes the driver's own open mouth
  of that frame (a real interior, teeth and tongue, recoloured to the still's lips;
  generator.reenact.driver_mouth), as animators that render the mouth leave one; ``shade`` draws
  a dark interior with a teeth band (generator.reenact.shade_mouth); ``none`` leaves the warp's
  stretched lips. ``driver`` falls back to ``shade`` on frames where the driver's own mouth is
  too closed to lend an interior.

The driver's track is smoothed (EMA or one-euro) before use, so landmark jitter does not shake
the whole head.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fakescope.core.faces import similarity_transform
from generator.meshwarp import border_points, delaunay, remap_region, ring_points, warp_maps
from generator.reenact import (
    GAINS,
    INNER_MOUTH,
    SMOOTHINGS,
    STABLE,
    TEMPLATE,
    WARPS,
    MouthPatch,
    apply_affine,
    canonical,
    driver_mouth,
    expression_delta,
    fix_lips,
    homogeneous,
    inter_ocular,
    lips_colour,
    needs_mouth_fill,
    rest_shape,
    shade_mouth,
    smooth,
    to_canonical,
)

HEAD_RING = 1.25  # head ring half-axes, in face half-sizes (hair and ears are inside)
OUTER_RING = 2.4  # fixed ring: beyond it the still is untouched


MOUTH_FILLS = ("shade", "driver", "none")


def sample_animate_params(rng: np.random.Generator) -> dict[str, Any]:
    return {"smoothing": dict(SMOOTHINGS[int(rng.integers(len(SMOOTHINGS)))]), "gain": float(rng.choice(GAINS)),
            "warp": str(rng.choice(WARPS)), "mouth_fill": str(rng.choice(MOUTH_FILLS))}


def head_geometry(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-axes of the head around a face: the landmarks' box, raised to take in the forehead."""
    lm = np.asarray(landmarks, np.float64)
    lo, hi = lm.min(0), lm.max(0)
    half = (hi - lo) / 2
    centre = (lo + hi) / 2 - np.array([0.0, 0.25 * half[1]])
    return centre, half * np.array([1.0, 1.25])


def driven_track(still_lm: np.ndarray, driver: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The still's landmarks moved by each driver frame (n, 68, 2), and the head motion (n, 2, 3)
    each frame applies to the still's head region (still pixels)."""
    still_lm = np.asarray(still_lm, np.float64)
    drv = np.asarray(driver, np.float64)
    unit = inter_ocular(drv[0]) / inter_ocular(TEMPLATE)  # driver pixels per canonical unit: smooth in canonical units
    drv = smooth(drv / unit, params.get("smoothing", {"kind": "none"})) * unit
    n_s = homogeneous(to_canonical(still_lm))
    n_d = homogeneous(to_canonical(drv[0]))
    still_c = apply_affine(n_s[:2], still_lm)
    drv_c = np.stack([canonical(lm) for lm in drv])
    exprs = expression_delta(drv_c, rest_shape(drv_c), upper=np.median(drv_c, axis=0))
    gain = float(params.get("gain", 1.0))
    lms, motions = [], []
    for lm, expr in zip(drv, exprs, strict=True):
        h_d = homogeneous(similarity_transform(drv[0][STABLE], lm[STABLE]))  # driver frame 0 -> frame j, driver pixels
        motion = (np.linalg.inv(n_s) @ n_d @ h_d @ np.linalg.inv(n_d) @ n_s)[:2]  # the same motion on the still
        new_c = still_c + gain * expr
        fix_lips(new_c)
        moved = apply_affine(np.linalg.inv(n_s)[:2], new_c)
        lms.append(apply_affine(motion, moved))
        motions.append(motion)
    return np.stack(lms), np.stack(motions)


def animate_clip(still: np.ndarray, still_lm: np.ndarray, driver: np.ndarray, params: dict[str, Any],
                 driver_mouths: Sequence[MouthPatch | None] = ()) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of ``still`` moved by the driver's landmark track (n, 68, 2, gaps filled), and their landmarks.

    ``driver_mouths``: the driver's mouth in each frame of the track (generator.reenact.mouth_patch;
    None where closed or unseen), which ``mouth_fill: driver`` needs; without them it shades."""
    fill = params.get("mouth_fill", "shade")
    if fill not in MOUTH_FILLS:
        raise ValueError(f"unknown mouth_fill {fill!r} for animate; choose from {', '.join(MOUTH_FILLS)}")
    still_lm = np.asarray(still_lm, np.float64)
    still_lips = lips_colour(still, still_lm[48:68]) if fill == "driver" else None
    lms, motions = driven_track(still_lm, driver, params)
    centre, half = head_geometry(still_lm)
    head = ring_points(centre, tuple(half * HEAD_RING), 16)
    outer = ring_points(centre, tuple(half * OUTER_RING), 20)
    h, w = still.shape[:2]
    x0, y0 = np.floor(np.maximum(outer.min(0), 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(outer.max(0), (w - 1, h - 1))).astype(int) + 1
    roi = (int(x0), int(y0), int(x1), int(y1))
    fixed = np.vstack([outer, border_points(roi, 6)])
    src = np.vstack([still_lm, head, fixed])
    method = params.get("warp", "tps")
    tris = delaunay(src) if method == "pwa" else None  # one mesh for the whole clip: no flicker of its edges
    frames = []
    for j, (lm, motion) in enumerate(zip(lms, motions, strict=True)):
        dst = np.vstack([lm, apply_affine(motion, head), fixed])
        out = remap_region(still, warp_maps(src, dst, roi, method, tris), roi)
        if fill != "none" and needs_mouth_fill(still_lm, lm):
            patch = driver_mouths[j] if fill == "driver" and j < len(driver_mouths) else None
            if patch is not None:
                out = driver_mouth(out, lm[INNER_MOUTH], patch, still_lips)
            else:
                out = shade_mouth(out, lm[INNER_MOUTH], still, still_lm[48:68])
        frames.append(out)
    return frames, [lm.astype(np.float32) for lm in lms]
