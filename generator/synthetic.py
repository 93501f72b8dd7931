"""Synthetic aligned faces with plausible landmarks, for tests and speed benchmarks.

Why: training and rendering speed do not depend on who is in the picture, and unit tests must
run without the real data set; drawing faces from a real mean landmark shape keeps the loss
masks (hull, eyes, mouth) realistic.
"""

from __future__ import annotations

import cv2
import numpy as np

from generator.faceset import FaceSet

# Mean dlib-68 shape of real talking-head crops (generator.crop, margin 0.1, shift 0.15), in [0, 1].
MEAN_SHAPE = np.array([
    (0.160, 0.323), (0.173, 0.409), (0.192, 0.493), (0.211, 0.575), (0.237, 0.654), (0.283, 0.724), (0.344, 0.784),
    (0.420, 0.829), (0.505, 0.846), (0.588, 0.832), (0.658, 0.789), (0.712, 0.729), (0.750, 0.659), (0.770, 0.579),
    (0.784, 0.495), (0.799, 0.410), (0.808, 0.325), (0.214, 0.248), (0.252, 0.195), (0.313, 0.173), (0.377, 0.180),
    (0.435, 0.209), (0.562, 0.206), (0.620, 0.178), (0.681, 0.174), (0.738, 0.198), (0.771, 0.250), (0.503, 0.298),
    (0.504, 0.358), (0.505, 0.418), (0.506, 0.478), (0.440, 0.512), (0.472, 0.520), (0.505, 0.529), (0.536, 0.520),
    (0.565, 0.512), (0.287, 0.320), (0.323, 0.295), (0.369, 0.295), (0.408, 0.325), (0.368, 0.339), (0.321, 0.340),
    (0.587, 0.326), (0.625, 0.296), (0.670, 0.296), (0.704, 0.320), (0.673, 0.340), (0.628, 0.339), (0.381, 0.639),
    (0.428, 0.608), (0.473, 0.588), (0.502, 0.595), (0.533, 0.589), (0.576, 0.609), (0.620, 0.640), (0.580, 0.688),
    (0.538, 0.709), (0.504, 0.713), (0.470, 0.708), (0.426, 0.686), (0.405, 0.640), (0.472, 0.625), (0.502, 0.626),
    (0.533, 0.625), (0.597, 0.641), (0.535, 0.653), (0.503, 0.656), (0.473, 0.652),
], dtype=np.float32)


def draw_face(landmarks: np.ndarray, size: int, skin: tuple[int, int, int], bg: tuple[int, int, int]) -> np.ndarray:
    img = np.full((size, size, 3), bg, np.uint8)
    cv2.fillConvexPoly(img, cv2.convexHull(np.round(landmarks).astype(np.int32)), skin)
    for sl in (slice(36, 42), slice(42, 48), slice(48, 60)):
        cv2.fillConvexPoly(img, cv2.convexHull(np.round(landmarks[sl]).astype(np.int32)), (40, 30, 120))
    return img


def synthetic_faceset(identity: str, n: int = 24, size: int = 16, seed: int = 0) -> FaceSet:
    """``n`` cartoon faces of one flat skin colour (fixed by ``seed``) with jittered mean-shape landmarks."""
    rng = np.random.default_rng(seed)
    skin = tuple(int(c) for c in rng.integers(90, 230, 3))
    images, masks, lms = [], [], []
    for _ in range(n):
        lm = (MEAN_SHAPE + rng.normal(0, 0.01, MEAN_SHAPE.shape).astype(np.float32)) * size
        images.append(draw_face(lm, size, skin, (20, 60, 20)))
        m = np.zeros((size, size), np.uint8)
        cv2.fillConvexPoly(m, cv2.convexHull(np.round(lm).astype(np.int32)), 255)
        masks.append(m)
        lms.append(lm)
    return FaceSet(identity=identity, images=np.stack(images), masks=np.stack(masks), landmarks=np.stack(lms),
                   frames=np.arange(n, dtype=np.int32), source_index=np.zeros(n, np.int32),
                   sources=(f"synthetic:{identity}",), source_sha256=(f"{seed:064x}",), key=f"synthetic-{identity}-{seed}-{n}-{size}")
