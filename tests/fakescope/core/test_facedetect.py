import numpy as np

from fakescope.core.facedetect import Mtcnn, mtcnn_model_dir
from fakescope.core.faces import dlib_box_from_points, five_points, landmark_agreement
from fakescope.core.video import iter_frames


def _first_frame(path):  # noqa: ANN001, ANN202
    return next(iter(iter_frames(path)))[2]


def test_model_files_are_found_without_importing_the_package() -> None:
    assert {p.name for p in mtcnn_model_dir().glob("*.onnx")} >= {"pnet.onnx", "rnet.onnx", "onet.onnx"}


def test_mtcnn_finds_the_face_with_a_score_and_five_points(talking_head) -> None:  # noqa: ANN001
    frame = _first_frame(talking_head)
    dets = Mtcnn().detect(frame, 40)
    assert len(dets) == 1
    d = dets[0]
    assert d.score > 0.9 and d.points is not None and d.points.shape == (5, 2)
    x0, y0, x1, y1 = d.box
    assert 120 < x1 - x0 < 300 and x0 < d.points[:, 0].min() and d.points[:, 0].max() < x1
    assert d.points[0, 1] < d.points[3, 1] and d.points[0, 0] < d.points[1, 0]  # eyes above the mouth, left first


def test_a_region_and_a_size_range_restrict_the_search(talking_head) -> None:  # noqa: ANN001
    frame = _first_frame(talking_head)
    full = Mtcnn().detect(frame, 40)[0]
    x0, y0, x1, y1 = full.box
    side = x1 - x0
    local = Mtcnn().detect(frame, 0.6 * side, 1.6 * side, roi=(x0 - side, y0 - side, x1 + side, y1 + side))
    assert len(local) == 1 and np.abs(local[0].box - full.box).max() < 0.1 * side
    assert Mtcnn().detect(frame, 40, roi=(0, 0, 60, 60)) == []  # a corner without a face
    assert Mtcnn().detect(frame, 600) == []  # only faces far larger than the frame's face


def test_no_face_in_noise() -> None:
    rng = np.random.default_rng(0)
    assert Mtcnn().detect(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), 40) == []


def test_the_predictor_box_from_five_points_fits_the_68_landmarks(talking_head) -> None:  # noqa: ANN001
    from fakescope.core.faces import FaceTracker

    frame = _first_frame(talking_head)
    d = Mtcnn().detect(frame, 40)[0]
    box = dlib_box_from_points(d.points)
    gray = frame.mean(axis=2).astype(np.uint8)
    lm = FaceTracker._landmarks(gray, box)
    assert landmark_agreement(lm, d.points) > 0.8
    iod = np.linalg.norm(d.points[1] - d.points[0])
    assert np.median(np.linalg.norm(five_points(lm) - d.points, axis=1)) < 0.15 * iod
    assert landmark_agreement(lm, d.points + [0.5 * iod, 0]) < 0.2  # a fit that went astray
