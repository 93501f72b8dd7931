"""The interface every analyzer plugs into, and the shared per-frame crop cache.

The scan makes a single pass over the video; each analyzer sees every frame with the faces found
in it and takes what it needs. Aligned crops are cached per frame so that the detector, the edge
analyzer and the spectrum analyzer never align the same face twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from fakescope.core.faces import AlignedFace, align_face
from fakescope.core.types import Evidence, FaceObservation, KeyFrame, VideoInfo


class CropCache:
    """Aligned crops of the current frame, keyed by (track, size, margin)."""

    def __init__(self) -> None:
        self._frame: np.ndarray | None = None
        self._frame_index = -1
        self._cache: dict[tuple[int, int, float], AlignedFace] = {}

    def reset(self, frame_index: int, frame_bgr: np.ndarray) -> None:
        self._frame_index = frame_index
        self._frame = frame_bgr
        self._cache.clear()

    def get(self, face: FaceObservation, size: int, margin: float = 0.3) -> AlignedFace:
        if face.frame_index != self._frame_index or self._frame is None:
            raise ValueError("CropCache.get called with a face from another frame; call reset() per frame")
        key = (face.track_id, size, margin)
        if key not in self._cache:
            self._cache[key] = align_face(self._frame, face.landmarks, size=size, margin=margin)
        return self._cache[key]


@dataclass(frozen=True)
class AnalyzerNeeds:
    """What an analyzer reads per frame, declared so the scan does not guess.

    ``faceless_frames``: it must see frames in which no face was found (provenance fingerprints the
    background of every frame); analyzers without it are not called on those frames at all.
    """

    faceless_frames: bool = False


@runtime_checkable
class Analyzer(Protocol):
    """Every analyzer the scan drives. Optional capabilities are named here with neutral defaults
    (see AnalyzerBase), so the scan never probes an analyzer with hasattr/getattr."""

    name: str

    @property
    def needs(self) -> AnalyzerNeeds: ...

    @property
    def model_hashes(self) -> Mapping[str, str]:
        """sha256 of every model file or database the evidence depends on (the verdict's versions)."""
        ...

    def start(self, info: VideoInfo) -> None: ...

    def update(
        self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation], crops: CropCache
    ) -> None: ...

    def finish(self) -> dict[int, Evidence]:
        """Evidence per face track id."""
        ...

    def key_frames(self) -> list[KeyFrame]:
        """Frames worth showing in the report (called after finish); [] when it has none."""
        ...

    def file_evidence(self) -> Evidence | None:
        """Evidence about the whole file rather than a face (content credentials), called after finish.

        The scan adds it to every face track's evidence, and judges a file without faces on it
        alone; None (the default) for analyzers that judge faces."""
        ...


class AnalyzerBase:
    """Neutral defaults for the optional parts of the Analyzer protocol."""

    name = "analyzer"

    @property
    def needs(self) -> AnalyzerNeeds:
        return AnalyzerNeeds()

    @property
    def model_hashes(self) -> Mapping[str, str]:
        return {}

    def key_frames(self) -> list[KeyFrame]:
        return []

    def file_evidence(self) -> Evidence | None:
        return None
