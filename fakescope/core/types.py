"""Typed results shared by every stage.

Results are frozen so that evidence handed to fusion or written to a report cannot be edited
after the fact by another analyzer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from fakescope.core.quality import FaceQuality, face_quality

Status = Literal["ok", "insufficient"]
Label = Literal["real", "fake", "inconclusive"]

# A verdict's P(fake) is labelled fake at or above FAKE_THRESHOLD, real at or below REAL_THRESHOLD and
# inconclusive in between: the band where the evidence does not let a reader defend either label.
FAKE_THRESHOLD = 0.65
REAL_THRESHOLD = 0.35


@dataclass(frozen=True)
class VideoInfo:
    """What a user sees about a file before any analysis (frame counts are decoded counts)."""

    path: str
    frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    rotation: int = 0  # display rotation in degrees as ffprobe reports it (display matrix, -180 <= r < 180)
    variable_frame_rate: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "frames": int(self.frames),
            "fps": float(self.fps),
            "width": int(self.width),
            "height": int(self.height),
            "duration_s": float(self.duration_s),
            "rotation": int(self.rotation),
        }


@dataclass(frozen=True)
class FaceObservation:
    """One face in one frame: landmarks are in full-resolution frame pixels (68 x 2, dlib order).

    ``confidence``: the tracker's confidence in the landmarks (fakescope.core.quality); ``quality``
    says whether analyzers may judge this face, and if not, why.
    """

    frame_index: int
    timestamp: float
    track_id: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    landmarks: np.ndarray = field(repr=False)
    confidence: float = 1.0

    @property
    def size(self) -> float:
        x0, y0, x1, y1 = self.box
        return float(max(x1 - x0, y1 - y0))

    @cached_property
    def quality(self) -> FaceQuality:
        return face_quality(self.landmarks, self.size, self.confidence)


@dataclass(frozen=True)
class Evidence:
    """One analyzer's opinion. ``score`` is always P(fake) in [0, 1].

    ``insufficient`` evidence must never push a verdict towards fake; fusion treats it as absent.
    """

    analyzer: str
    score: float
    status: Status
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.score) <= 1.0 or self.score != self.score:
            raise ValueError(f"Evidence score must be a probability in [0, 1], got {self.score!r}")
        if self.status not in ("ok", "insufficient"):
            raise ValueError(f"Evidence status must be 'ok' or 'insufficient', got {self.status!r}")


@dataclass(frozen=True)
class Verdict:
    label: Label
    fake_probability: float
    evidence: tuple[Evidence, ...]
    track_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class KeyFrame:
    """A frame worth showing: the face box drawn on a thumbnail and an analyzer's heatmap overlay."""

    analyzer: str
    frame_index: int
    score: float
    thumbnail: np.ndarray = field(repr=False)  # BGR with the face box drawn
    overlay: np.ndarray | None = field(default=None, repr=False)  # BGR heatmap over the aligned face
    caption: str = ""
    track_id: int | None = None
