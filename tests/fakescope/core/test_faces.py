from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.faces import (
    UNCONFIRMED_CONFIDENCE,
    FacePipeline,
    FaceTracker,
    PipelineConfig,
    align_face,
    hull_mask,
    similarity_transform,
)
from fakescope.core.video import iter_frames
from tests.conftest import FIXTURES


def test_similarity_transform_recovers_known_transform() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (5, 2))
    ang, scale, t = 0.3, 1.7, np.array([5.0, -3.0])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = scale * src @ rot.T + t
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


@pytest.mark.slow
def test_pipeline_finds_the_face_on_every_frame_with_one_stable_track(talking_head: Path) -> None:
    seen = []
    for _, _, _, faces in FacePipeline().run(talking_head):
        seen.append([f.track_id for f in faces])
    assert len(seen) == 192
    assert sum(1 for s in seen if s) >= 190
    assert {t for s in seen for t in s} == {0}


@pytest.mark.slow
def test_landmarks_follow_the_face_between_detections(talking_head: Path) -> None:
    """Tracked landmarks must agree with landmarks from a fresh detection on the same frame."""
    tracked = {}
    for index, _, frame, faces in FacePipeline().run(talking_head):
        if index in (5, 55, 105):
            tracked[index] = (frame, faces[0].landmarks)
    for _index, (frame, lm) in tracked.items():
        fresh = FaceTracker()
        ref = fresh.process(0, 0.0, frame)[0].landmarks
        inter_ocular = np.linalg.norm(ref[36:42].mean(0) - ref[42:48].mean(0))
        assert np.median(np.linalg.norm(lm - ref, axis=1)) < 0.08 * inter_ocular


def test_two_faces_give_two_stable_tracks(talking_head: Path) -> None:
    ids_per_frame = []
    tracker = FaceTracker()
    for index, ts, frame in iter_frames(talking_head):
        if index >= 40:
            break
        both = np.hstack([frame, cv2.flip(frame, 1)])
        ids_per_frame.append(sorted(f.track_id for f in tracker.process(index, ts, both)))
    assert ids_per_frame[-1] == [0, 1]
    assert all(ids == [0, 1] for ids in ids_per_frame[5:])


def test_no_face_video_gives_no_tracks(no_face_video: Path) -> None:
    assert all(not faces for *_, faces in FacePipeline().run(no_face_video))


def test_align_face_puts_eyes_at_template_positions(talking_head: Path) -> None:
    _, _, frame, faces = next(iter(FacePipeline().run(talking_head)))
    a = align_face(frame, faces[0].landmarks, size=128, margin=0.3)
    assert a.image.shape == (128, 128, 3) and a.mask.shape == (128, 128)
    left, right = a.landmarks[36:42].mean(0), a.landmarks[42:48].mean(0)
    assert abs(left[1] - right[1]) < 4  # eyes level after alignment
    assert 0.25 * 128 < left[0] < 0.45 * 128 and 0.55 * 128 < right[0] < 0.75 * 128
    assert 0.2 < a.mask.mean() < 0.7
    # The inverse transform maps the crop landmarks back onto the frame landmarks.
    back = a.landmarks @ a.inverse[:, :2].T + a.inverse[:, 2]
    np.testing.assert_allclose(back, faces[0].landmarks, atol=1e-3)


def test_align_face_rejects_tiny_sizes() -> None:
    with pytest.raises(ValueError, match="at least"):
        align_face(np.zeros((50, 50, 3), np.uint8), np.zeros((68, 2)), size=8)


def test_hull_mask_is_convex_hull() -> None:
    lm = np.array([[10, 10], [50, 10], [50, 50], [10, 50], [30, 30]] * 14)[:68].astype(float)
    m = hull_mask(lm, (64, 64))
    assert m[30, 30] == 1.0 and m[5, 5] == 0.0


def test_a_small_face_in_a_portrait_clip_is_found_and_judged() -> None:
    """540x960 portrait, face about 64 px: the earlier pipeline (HOG on the frame downscaled to 480 px,
    where the face is 32 px) found nothing; full-resolution MTCNN finds it on every frame."""
    path = FIXTURES / "portrait_small_face.mp4"
    seen = [faces for *_, faces in FacePipeline().run(path)]
    assert len(seen) == 12 and all(len(f) == 1 for f in seen)
    assert {f[0].track_id for f in seen} == {0}
    assert all(55 <= f[0].size <= 75 for f in seen)
    # judged once a second detection (3 frames later) confirms the track
    assert [f[0].quality.usable for f in seen] == [False] * 3 + [True] * 9
    old = PipelineConfig(detector="hog", detect_every_empty=3, detect_max_side=480)
    assert not any(faces for *_, faces in FacePipeline(old).run(path))


def test_display_rotation_gives_upright_landmarks() -> None:
    """The same clip stored landscape with rotate=90: the face is found upright, where the plain clip has it."""
    plain = [f[0].landmarks for *_, f in FacePipeline().run(FIXTURES / "portrait_small_face.mp4")]
    turned = [f[0].landmarks for *_, f in FacePipeline().run(FIXTURES / "portrait_small_face_rot90.mp4")]
    assert len(turned) == len(plain) == 12
    for a, b in zip(turned, plain, strict=True):
        assert a[36:48, 1].mean() < a[48:68, 1].mean()  # eyes above the mouth
        assert np.median(np.linalg.norm(a - b, axis=1)) < 3.0


def test_a_track_carries_the_detectors_confidence(talking_head: Path) -> None:
    faces = [f for _, (*_, fs) in zip(range(30), FacePipeline().run(talking_head), strict=False) for f in fs]
    assert len(faces) == 30 and all(0.8 < f.confidence <= 1.0 for f in faces[3:])
    assert all(f.confidence <= UNCONFIRMED_CONFIDENCE for f in faces[:3])  # until a second detection


def test_the_earlier_hog_pipeline_stays_available(talking_head: Path) -> None:
    cfg = PipelineConfig(detector="hog")
    seen = [faces for i, (*_, faces) in zip(range(40), FacePipeline(cfg).run(talking_head), strict=False)]
    assert all(len(f) == 1 and f[0].confidence == 1.0 for f in seen)
    with pytest.raises(ValueError, match="unknown face detector"):
        PipelineConfig(detector="cnn")


def test_landmarks_sliding_off_the_face_are_not_trusted(talking_head: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between detections the fit can slide off a turned face, its box growing: the last good landmarks
    are kept, held below the quality gate, and the face is re-detected on the next frame."""
    frames = [f for i, _, f in iter_frames(talking_head) if i < 6]
    tracker = FaceTracker()
    for i in range(5):  # detected at frame 0, confirmed by the re-detection at frame 3
        (good,) = tracker.process(i, i / 30, frames[i])
    assert good.quality.usable
    fit = FaceTracker._landmarks

    def sliding(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        lm = fit(gray, box)
        return (lm - lm.mean(0)) * 1.8 + lm.mean(0)

    monkeypatch.setattr(FaceTracker, "_landmarks", staticmethod(sliding))
    (obs,) = tracker.process(5, 5 / 30, frames[5])
    assert obs.confidence <= UNCONFIRMED_CONFIDENCE and obs.quality.reason == "low_confidence"
    np.testing.assert_allclose(obs.landmarks, good.landmarks)
