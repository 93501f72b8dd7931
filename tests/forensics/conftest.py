"""Shared fixtures: one real aligned face (160 px) with its 68 landmarks, and synthetic eyes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="session")
def face() -> tuple[np.ndarray, np.ndarray]:
    img = cv2.imread(str(FIXTURES / "face_aligned_160.png"), cv2.IMREAD_COLOR)
    assert img is not None, "tests/fixtures/face_aligned_160.png is missing"
    lm = np.asarray(json.loads((FIXTURES / "face_aligned_160.json").read_text())["landmarks"], np.float32)
    return img, lm
