import math

import numpy as np
import pytest

from fakescope.core import quality
from fakescope.core.quality import JUDGE_MIN_QUALITY, FaceQuality, estimate_yaw, face_quality
from fakescope.core.types import FaceObservation


def _turned(lm: np.ndarray, offset: float) -> np.ndarray:
    """The landmarks with the nose tip moved sideways by ``offset`` outer-eye-corner distances."""
    out = np.array(lm, np.float64)
    axis = out[45] - out[36]
    iod = float(np.linalg.norm(axis))
    ux = axis / iod
    mid = (out[36] + out[45]) / 2
    along = float(np.dot(out[30] - mid, ux))
    out[30] = out[30] + (offset * iod - along) * ux  # keep the nose's height, set its sideways offset
    return out


def test_a_frontal_face_of_sixty_pixels_is_judged(face: tuple[np.ndarray, np.ndarray]) -> None:
    _, lm = face
    q = face_quality(lm * 60 / np.ptp(lm, axis=0).max(), size=60)
    assert abs(q.yaw) < 15
    assert q.usable and q.reason is None and q.value >= JUDGE_MIN_QUALITY


@pytest.mark.parametrize(("size", "yaw", "confidence", "reason"), [
    (30.0, 0.0, 1.0, "too_small"),
    (100.0, 50.0, 1.0, "turned"),
    (100.0, -50.0, 1.0, "turned"),
    (100.0, 0.0, 0.3, "low_confidence"),
    (30.0, 55.0, 0.9, "turned"),  # the weakest part names the reason
    (100.0, float("nan"), 1.0, "turned"),  # no pose estimate: not judged
])
def test_each_weak_part_stops_judging_and_names_the_reason(size: float, yaw: float, confidence: float, reason: str) -> None:
    q = FaceQuality(size, yaw, confidence)
    assert not q.usable and q.reason == reason


def test_limits_sit_at_one_half() -> None:
    assert FaceQuality(40.0, 0.0, 1.0).parts["too_small"] == pytest.approx(0.5)
    assert FaceQuality(100.0, 40.0, 1.0).parts["turned"] == pytest.approx(0.5)
    assert FaceQuality(40.0, 40.0, 0.5).usable  # exactly at the limits: judged


def test_yaw_grows_with_the_nose_offset(face: tuple[np.ndarray, np.ndarray]) -> None:
    _, lm = face
    assert estimate_yaw(_turned(lm, 0.0)) == pytest.approx(0.0, abs=1e-6)
    # 0.45 * tan(45 degrees) = 0.45 of the eye-corner distance
    assert estimate_yaw(_turned(lm, 0.45)) == pytest.approx(45.0, abs=0.5)
    assert estimate_yaw(_turned(lm, -0.45)) == pytest.approx(-45.0, abs=0.5)
    assert math.isnan(estimate_yaw(np.zeros((68, 2))))


def test_observation_quality_reads_its_landmarks_size_and_confidence(face: tuple[np.ndarray, np.ndarray],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _, lm = face
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    box = (int(x0), int(y0), int(x1), int(y1))
    assert FaceObservation(0, 0.0, 0, box, lm).quality.usable
    assert FaceObservation(0, 0.0, 0, box, lm, confidence=0.2).quality.reason == "low_confidence"
    assert FaceObservation(0, 0.0, 0, box, _turned(lm, 0.8)).quality.reason == "turned"
    monkeypatch.setattr(quality, "JUDGE_MIN_QUALITY", 1.01)  # the one threshold is read at use
    assert not FaceObservation(0, 0.0, 0, box, lm).quality.usable
