"""Down-then-up resampled crops: the high band an upsampling generator lacks, without a generator.

A pseudo-fake for the spectrum analyzer's training (forensics.train_spectrum) and benchmarks.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def upsample_fake(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Down-then-up resized crop: the missing high band of an upsampling generator, without one."""
    f = float(rng.uniform(0.35, 0.7))
    interp = [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_NEAREST][int(rng.integers(0, 3))]
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=interp), {"factor": f, "interpolation": int(interp)}
