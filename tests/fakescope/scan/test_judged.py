import numpy as np

from fakescope.core.types import FaceObservation
from fakescope.scan.judged import JudgedFrames


def _obs(track: int, lm: np.ndarray, confidence: float = 1.0, scale: float = 1.0) -> FaceObservation:
    lm = lm * scale
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    return FaceObservation(0, 0.0, track, (int(x0), int(y0), int(x1), int(y1)), lm, confidence)


def test_every_frame_is_judged_or_counted_once(face: tuple[np.ndarray, np.ndarray]) -> None:
    _, lm = face
    j = JudgedFrames()
    for _ in range(5):
        j.add([_obs(0, lm), _obs(1, lm, scale=0.25)])  # track 1: a 25 px face
    for _ in range(3):
        j.add([_obs(0, lm, confidence=0.1)])
    j.add([])
    block = j.faces_json(frames=10, frames_with_face=9, tracks=2, chosen=0)
    assert block["frames_judged"] == 5
    assert block["not_judged"] == {"not_found": 2, "too_small": 0, "turned": 0, "low_confidence": 3}
    assert block["frames_judged"] + sum(block["not_judged"].values()) == 10
    assert list(block)[:3] == ["frames_with_face", "frames_judged", "tracks"]
    assert j.track_json(1) == {"frames_judged": 0, "not_judged": {"too_small": 5, "turned": 0, "low_confidence": 0}}


def test_no_face_means_no_frame_judged() -> None:
    block = JudgedFrames().faces_json(frames=30, frames_with_face=0, tracks=0, chosen=None)
    assert block["frames_judged"] == 0 and block["not_judged"]["not_found"] == 30
