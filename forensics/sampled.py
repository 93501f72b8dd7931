"""Shared loop of the crop analyzers (edges, spectrum): score every ``every``-th frame's aligned
crop of each track, and judge a track by the mean of its frame probabilities.

A track with fewer than ``min_frames`` scored crops is 'insufficient' (score 0.5): a couple of
crops is too little to call a whole video.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fakescope.core.analyzers import AnalyzerBase
from fakescope.core.faces import AlignedFace
from fakescope.core.types import Evidence, FaceObservation, VideoInfo


class SampledCropAnalyzer(AnalyzerBase):
    name = "sampled"

    def __init__(self, every: int, size: int, min_frames: int) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every, self.size, self.min_frames = every, size, min_frames
        self._per_track: dict[int, list[tuple[int, float]]] = {}

    def _reset(self) -> None:
        """Per-video state of a subclass; called by start()."""

    def _score(self, crop: AlignedFace) -> float | None:
        """P(fake) of one aligned crop, or None for no opinion."""
        raise NotImplementedError

    def _observe(self, track_id: int, frame_index: int, score: float, crop: AlignedFace) -> None:
        """Hook for subclasses that keep something per scored crop (e.g. a key frame)."""

    def _details(self, pairs: list[tuple[int, float]]) -> dict[str, Any]:
        return {}

    def start(self, info: VideoInfo) -> None:
        self._per_track = {}
        self._reset()

    def update(self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation],
               crops: Any) -> None:
        if frame_index % self.every:
            return
        for face in faces:
            if not face.quality.usable:
                continue  # tracked but not judgeable (fakescope.core.quality): no score
            crop = crops.get(face, self.size)
            s = self._score(crop)
            if s is None:
                continue
            self._per_track.setdefault(face.track_id, []).append((int(frame_index), s))
            self._observe(face.track_id, int(frame_index), s, crop)

    def finish(self) -> dict[int, Evidence]:
        out = {}
        for tid, pairs in self._per_track.items():
            status = "ok" if len(pairs) >= self.min_frames else "insufficient"
            score = float(np.mean([s for _, s in pairs])) if status == "ok" else 0.5
            details = {"per_frame": [[f, round(s, 4)] for f, s in pairs], "frames_scored": len(pairs)}
            out[tid] = Evidence(self.name, score, status, {**details, **self._details(pairs)})
        return out
