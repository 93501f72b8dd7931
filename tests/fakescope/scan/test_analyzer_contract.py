"""Every registered analyzer keeps the Analyzer contract (as scikit-learn checks every estimator).

What the scan and the fusion rely on, whatever the analyzer: it builds from a scan config, says what
it needs per frame, gives no opinion without a face (insufficient, 0.5, never pushing a verdict), keeps
its scores probabilities, and hands the report typed key frames.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.analyzers import Analyzer, AnalyzerNeeds, CropCache
from fakescope.core.types import Evidence, FaceObservation, KeyFrame, VideoInfo
from fakescope.provenance.registry import create_registry
from fakescope.scan.analyzers import ANALYZER_FACTORIES, build_analyzers
from fakescope.scan.pipeline import ScanConfig

FPS, FRAMES, SIZE = 25.0, 60, 256


@pytest.fixture(params=sorted(ANALYZER_FACTORIES))
def analyzer(request: pytest.FixtureRequest, tmp_path: Path) -> Analyzer:
    config = ScanConfig(registry=create_registry(tmp_path / "registry.db"), progress=False)
    built, skipped = build_analyzers(config, [request.param])
    assert not skipped, f"{request.param} could not be built: {skipped}"
    return built[0]


def _info() -> VideoInfo:
    return VideoInfo("synthetic.mp4", FRAMES, FPS, SIZE, SIZE, FRAMES / FPS)


def _drive(a: Analyzer, frames: list[tuple[np.ndarray, list[FaceObservation]]]) -> dict[int, Evidence]:
    """What scan_video does per frame: the crop cache reset, update only where the analyzer wants it."""
    crops = CropCache()
    a.start(_info())
    for i, (frame, faces) in enumerate(frames):
        crops.reset(i, frame)
        if faces or a.needs.faceless_frames:
            a.update(i, i / FPS, frame, faces, crops)
    return a.finish()


def _face_frames(face: tuple[np.ndarray, np.ndarray]) -> list[tuple[np.ndarray, list[FaceObservation]]]:
    img, lm = face
    frame = cv2.copyMakeBorder(img, 48, 48, 48, 48, cv2.BORDER_REFLECT)
    lm = lm + 48
    x0, y0 = lm.min(axis=0).astype(int)
    x1, y1 = lm.max(axis=0).astype(int)
    out = []
    for i in range(FRAMES):
        shaded = np.clip(frame.astype(np.int16) + (i % 5) - 2, 0, 255).astype(np.uint8)
        out.append((shaded, [FaceObservation(i, i / FPS, 0, (int(x0), int(y0), int(x1), int(y1)), lm.copy())]))
    return out


def test_it_is_an_analyzer_and_declares_its_needs(analyzer: Analyzer) -> None:
    assert isinstance(analyzer, Analyzer)
    assert analyzer.name in ANALYZER_FACTORIES
    assert isinstance(analyzer.needs, AnalyzerNeeds)
    hashes = dict(analyzer.model_hashes)
    assert all(isinstance(k, str) and re.fullmatch(r"[0-9a-f]{64}", v) for k, v in hashes.items()), hashes


def test_no_face_is_insufficient_at_one_half(analyzer: Analyzer) -> None:
    blank = np.full((SIZE, SIZE, 3), 90, np.uint8)
    evidence = _drive(analyzer, [(blank, []) for _ in range(FRAMES)])
    for ev in evidence.values():
        assert (ev.analyzer, ev.status, ev.score) == (analyzer.name, "insufficient", 0.5)
    assert analyzer.key_frames() == [] or all(k.analyzer == analyzer.name for k in analyzer.key_frames())


def test_file_evidence_is_none_or_neutral_without_credentials(analyzer: Analyzer, face: tuple[np.ndarray, np.ndarray]) -> None:
    """Evidence about the whole file (content credentials) follows the same rules: nothing found, no opinion."""
    blank = np.full((SIZE, SIZE, 3), 90, np.uint8)
    for frames in ([(blank, []) for _ in range(FRAMES)], _face_frames(face)):
        _drive(analyzer, frames)
        ev = analyzer.file_evidence()
        assert ev is None or (isinstance(ev, Evidence) and (ev.analyzer, ev.status, ev.score) ==
                              (analyzer.name, "insufficient", 0.5))


def test_a_face_gets_a_probability_and_typed_key_frames(analyzer: Analyzer, face: tuple[np.ndarray, np.ndarray]) -> None:
    evidence = _drive(analyzer, _face_frames(face))
    for track, ev in evidence.items():
        assert track == 0 and ev.analyzer == analyzer.name
        assert 0.0 <= ev.score <= 1.0 and ev.status in ("ok", "insufficient")
        if ev.status == "insufficient":
            assert ev.score == 0.5  # no opinion never pushes the verdict
    for k in analyzer.key_frames():
        assert isinstance(k, KeyFrame) and k.analyzer == analyzer.name
        assert isinstance(k.thumbnail, np.ndarray) and k.thumbnail.ndim == 3 and 0.0 <= k.score <= 1.0
        assert k.overlay is None or (isinstance(k.overlay, np.ndarray) and k.overlay.ndim == 3)


def test_start_resets_per_video_state(analyzer: Analyzer, face: tuple[np.ndarray, np.ndarray]) -> None:
    """Workers reuse one analyzer for many videos (Ray, the dashboard): a second video starts clean."""
    _drive(analyzer, _face_frames(face))
    blank = np.full((SIZE, SIZE, 3), 90, np.uint8)
    assert all(ev.status == "insufficient" for ev in _drive(analyzer, [(blank, []) for _ in range(FRAMES)]).values())


def test_a_face_it_cannot_judge_is_never_scored(analyzer: Analyzer, face: tuple[np.ndarray, np.ndarray]) -> None:
    """Faces below the quality gate (fakescope.core.quality: too small, turned, unsure landmarks) are
    tracked, but no analyzer may score them: no evidence for the track, or insufficient at 0.5."""
    unsure = [(frame, [replace(f, confidence=0.1) for f in faces]) for frame, faces in _face_frames(face)]
    assert not unsure[0][1][0].quality.usable
    for ev in _drive(analyzer, unsure).values():
        assert (ev.status, ev.score) == ("insufficient", 0.5), ev
        assert not ev.details.get("per_frame") and not ev.details.get("ear")
