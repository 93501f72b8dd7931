"""Synthetic faces and a tiny preset so generator tests run in seconds without real data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from generator.faceset import FaceSet
from generator.models import Preset
from generator.synthetic import MEAN_SHAPE, synthetic_faceset

__all__ = ["MEAN_SHAPE", "TINY", "FaceTrack", "synthetic_faceset"]

TINY = Preset(
    name="tiny", size=16, margin=0.1, shift_y=0.15, enc_channels=(4, 8), latent=8, code_channels=8,
    dec_channels=(4,), batch_per_identity=2, lr=1e-3, gan_start_step=2, gan_weight=0.1, disc_width=4, disc_layers=2,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one thread avoids OpenMP barrier stalls on the shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_preset() -> Preset:
    return TINY


@pytest.fixture
def two_facesets() -> dict[str, FaceSet]:
    return {"alice": synthetic_faceset("alice", seed=1), "bob": synthetic_faceset("bob", seed=2)}


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass(frozen=True)
class FaceTrack:
    """The first frames of a fixture clip with the face pipeline's 68 landmarks of each."""

    frames: list[np.ndarray]
    landmarks: list[np.ndarray]


def _face_track(path: Path, n: int) -> FaceTrack:
    from fakescope.core.faces import FacePipeline

    frames, lms = [], []
    for index, _ts, frame, faces in FacePipeline().run(path):
        if index >= n:
            break
        assert faces, f"{path.name} frame {index} has no face"
        frames.append(frame)
        lms.append(faces[0].landmarks.astype(np.float64))
    return FaceTrack(frames, lms)


@pytest.fixture(scope="session")
def target_track() -> FaceTrack:
    """24 frames of a man talking with his mouth barely open (tests/fixtures/talking_head.mp4)."""
    return _face_track(FIXTURES / "talking_head.mp4", 24)


@pytest.fixture(scope="session")
def driver_track() -> FaceTrack:
    """24 frames of a woman smiling, closing and opening her mouth widely (unrelated_face.mp4)."""
    return _face_track(FIXTURES / "unrelated_face.mp4", 24)
