"""The one interface every analyzer plugs into, and the shared per-frame crop cache.

The scan makes a single pass over the video; each analyzer sees every frame with the faces found
in it and takes what it needs. Aligned crops are cached per frame so that the detector, the edge
analyzer and the spectrum analyzer never align the same face twice.
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol, runtime_checkable

import numpy as np

from fakescope.faces import AlignedFace, align_face
from fakescope.types import Evidence, FaceObservation, VideoInfo

log = logging.getLogger(__name__)


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


@runtime_checkable
class Analyzer(Protocol):
    name: str

    def start(self, info: VideoInfo) -> None: ...

    def update(
        self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation], crops: CropCache
    ) -> None: ...

    def finish(self) -> dict[int, Evidence]: ...


# Analyzer factories by name: "module:callable". Each callable takes the scan config and returns an
# Analyzer, or raises LookupError when it is not configured (e.g. no registry given).
ANALYZER_FACTORIES: dict[str, str] = {
    "detector": "detector.analyzer:make_analyzer",
    "blink": "forensics.blink:make_analyzer",
    "edges": "forensics.edges:make_analyzer",
    "spectrum": "forensics.spectrum:make_analyzer",
    "pulse": "forensics.pulse:make_analyzer",
    "provenance": "fakescope.provenance:make_analyzer",
}


def build_analyzers(config: object, names: list[str] | None = None) -> tuple[list[Analyzer], dict[str, str]]:
    """Instantiate the analyzers that are installed and configured.

    Returns the analyzers and, for each one left out, why — so the report can say which evidence
    is missing instead of silently omitting it.
    """
    analyzers: list[Analyzer] = []
    skipped: dict[str, str] = {}
    for name in names or list(ANALYZER_FACTORIES):
        target = ANALYZER_FACTORIES[name]
        module_name, attr = target.split(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            skipped[name] = f"not installed ({exc.__class__.__name__})"
            continue
        try:
            analyzers.append(factory(config))
        except LookupError as exc:
            skipped[name] = str(exc)
    return analyzers, skipped
