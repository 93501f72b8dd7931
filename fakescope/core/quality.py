"""Can a tracked face be judged? One quality measure per observed face and one threshold.

The tracker keeps following faces that are small, turned or hard to landmark (so a person is one
track however they move), but analyzers must not score crops they cannot judge: a 68-point fit on
a face turned 60 degrees puts the eyes and the jaw in the wrong places, and a detector CNN trained
on frontal aligned crops says nothing defensible about such a crop. So every FaceObservation has a
``quality`` built from three parts, each mapped to [0, 1] with 0.5 at its limit:

- size: the face's size in frame pixels (the longer side of its landmark box); 0.5 at 40 px (the
  smallest face the pipeline detects), 1.0 from 60 px.
- pose: the yaw estimated from the landmarks (the nose tip's offset from the midpoint of the outer
  eye corners, over their distance, read as ``0.45 * tan(yaw)``, the ratio of an adult face: nose tip
  about 4 cm in front of the outer eye corners, which are about 9 cm apart); 1.0 up to 20 degrees,
  0.5 at 40 degrees, 0 at 60. Landmark fits regress towards a frontal shape, so strongly turned
  faces read lower than they are; the estimate errs towards judging.
- confidence: the tracker's confidence in the landmarks, in [0, 1]: the detector's score times how
  well the 68-point fit agrees with the detector's own five landmarks at the last detection, lowered
  while re-detections miss the face, and held below the limit until a second detection confirms a
  new track (one-off detections are the false faces of a full-resolution search; FaceTracker).

``quality`` is the smallest part; a face is judged when ``quality >= JUDGE_MIN_QUALITY`` and
otherwise not judged for the reason of its smallest part (``too_small``, ``turned``,
``low_confidence``). The limits follow from the face sizes the detector keeps and the yaw past which
the blink analyzer already distrusts eye landmarks (about 38 degrees); they were not fitted to any
test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

JUDGE_MIN_QUALITY = 0.5  # the one threshold: faces below it are tracked but not judged
NOSE_DEPTH_RATIO = 0.45  # nose-tip offset / outer-eye-corner distance = NOSE_DEPTH_RATIO * tan(yaw)
REASONS = ("too_small", "turned", "low_confidence")


def _ramp(x: float, zero: float, one: float) -> float:
    """Linear from 0 at ``zero`` to 1 at ``one`` (either direction), clipped."""
    if not math.isfinite(x):
        return 0.0
    return float(min(1.0, max(0.0, (x - zero) / (one - zero))))


def estimate_yaw(landmarks68: np.ndarray) -> float:
    """Head yaw in degrees (sign: towards image right is positive) from 68 dlib landmarks; nan when
    the eye corners coincide."""
    pts = np.asarray(landmarks68, np.float64)
    if pts.shape != (68, 2) or not np.all(np.isfinite(pts)):
        return float("nan")
    eye_r, eye_l = pts[36], pts[45]
    axis = eye_l - eye_r
    iod = float(np.hypot(*axis))
    if iod <= 1e-6:
        return float("nan")
    offset = float(np.dot(pts[30] - (eye_r + eye_l) / 2.0, axis / iod)) / iod
    return math.degrees(math.atan(offset / NOSE_DEPTH_RATIO))


@dataclass(frozen=True)
class FaceQuality:
    size: float  # px, longer side of the landmark box
    yaw: float  # degrees, estimated from the landmarks
    confidence: float  # [0, 1]

    @property
    def parts(self) -> dict[str, float]:
        return {
            "too_small": _ramp(self.size, 20.0, 60.0),
            "turned": _ramp(abs(self.yaw), 60.0, 20.0),
            "low_confidence": _ramp(self.confidence, 0.0, 1.0),
        }

    @property
    def value(self) -> float:
        return min(self.parts.values())

    @property
    def usable(self) -> bool:
        return self.value >= JUDGE_MIN_QUALITY

    @property
    def reason(self) -> str | None:
        """Why the face is not judged (the weakest part), or None when it is."""
        if self.usable:
            return None
        parts = self.parts
        return min(REASONS, key=lambda k: parts[k])


def face_quality(landmarks68: np.ndarray, size: float, confidence: float = 1.0) -> FaceQuality:
    return FaceQuality(float(size), estimate_yaw(landmarks68), float(confidence))
