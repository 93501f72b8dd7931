"""Shared fixtures: paths to the tiny bundled clips, writers for synthetic videos, one real aligned face."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
# .ci/run installs ffmpeg when it can; tests that make or decode files with it skip where it is missing
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="ffmpeg/ffprobe are not installed")


@pytest.fixture(autouse=True)
def _private_case_log(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scans in tests must never write to (or read) the user's real case log and provenance registry."""
    monkeypatch.setenv("FAKESCOPE_CASES_DB", str(tmp_path_factory.mktemp("caselog") / "cases.db"))
    monkeypatch.setenv("FAKESCOPE_REGISTRY", str(tmp_path_factory.mktemp("registry") / "registry.db"))


@pytest.fixture(autouse=True, scope="session")
def _private_signing_key(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN202
    """Fakes made in tests are signed with a key of this test session, never the user's (one key for the
    whole session, so a test set rebuilt in another test is still byte-identical)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAKESCOPE_SIGNING_DIR", str(tmp_path_factory.mktemp("signing") / "signing"))
        for var in ("FAKESCOPE_SIGNING_CERT", "FAKESCOPE_SIGNING_KEY", "FAKESCOPE_C2PA_TRUST_ANCHORS"):
            mp.delenv(var, raising=False)
        yield


@pytest.fixture(scope="session")
def talking_head() -> Path:
    """6.4 s real talking head (436x500, 30 fps) with one blink at frames 73-78."""
    return FIXTURES / "talking_head.mp4"


def write_video(path: Path, frames: list[np.ndarray] | np.ndarray, fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path


@pytest.fixture
def no_face_video(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.normal(120, 30, (120, 160, 3)), 0, 255).astype(np.uint8) for _ in range(30)]
    return write_video(tmp_path / "noface.mp4", frames)


@pytest.fixture(scope="session")
def face() -> tuple[np.ndarray, np.ndarray]:
    img = cv2.imread(str(FIXTURES / "face_aligned_160.png"), cv2.IMREAD_COLOR)
    assert img is not None, "tests/fixtures/face_aligned_160.png is missing"
    lm = np.asarray(json.loads((FIXTURES / "face_aligned_160.json").read_text())["landmarks"], np.float32)
    return img, lm
