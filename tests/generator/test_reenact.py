"""Reenactment: the target keeps his face, his mouth follows the driver's."""

from __future__ import annotations

import numpy as np
import pytest

from fakescope.core.embedding import face_descriptor
from fakescope.core.faces import detect_landmarks_image
from generator.meshwarp import roi_around
from generator.reenact import (
    driven_landmarks,
    fill_gaps,
    most_open_frame,
    mouth_opening,
    reenact_clip,
    smooth,
)

from .conftest import FaceTrack

BASE = {"smoothing": {"kind": "ema", "alpha": 0.7}, "gain": 1.0, "warp": "pwa", "mouth_fill": "shade",
        "colour": "none", "mask": "hull", "erode": 0.0, "feather": 0.04, "blend": "alpha"}


def _landmarks_of(frames: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for f in frames:
        found = detect_landmarks_image(f, upsample=0)
        assert found, "no face found in a reenacted frame"
        out.append(found[0])
    return out


@pytest.mark.parametrize("variant", [
    {},
    {"warp": "tps", "smoothing": {"kind": "one_euro", "min_cutoff": 1.0, "beta": 20.0}},
    {"blend": "poisson", "colour": "reinhard", "mask": "ellipse", "feather": 0.06},
])
def test_the_targets_mouth_opens_and_closes_with_the_drivers(target_track: FaceTrack, driver_track: FaceTrack,
                                                            variant: dict) -> None:
    params = {**BASE, **variant}
    frames, lms = reenact_clip(target_track.frames, target_track.landmarks, fill_gaps(driver_track.landmarks), params)
    seen = _landmarks_of(frames)  # measured on the output by dlib, not taken from our own plan
    out_open = np.array([mouth_opening(lm) for lm in seen])
    drv_open = np.array([mouth_opening(lm) for lm in driver_track.landmarks])
    own_open = np.array([mouth_opening(lm) for lm in target_track.landmarks])
    r_out = np.corrcoef(out_open, drv_open)[0, 1]
    r_own = np.corrcoef(own_open, drv_open)[0, 1]
    assert r_out > 0.7, f"output mouth opening correlates {r_out:.2f} with the driver's (his own: {r_own:.2f})"
    assert r_out > r_own + 0.3
    assert np.ptp(out_open) > 2 * np.ptp(own_open)  # he now opens his mouth far more than he did
    # the planned landmarks are where dlib finds the face
    iod = np.linalg.norm(seen[0][36] - seen[0][45])
    err = np.mean([np.linalg.norm(a[48:68] - b[48:68], axis=1).mean() for a, b in zip(seen, lms, strict=True)]) / iod
    assert err < 0.08


def test_identity_is_kept(target_track: FaceTrack, driver_track: FaceTrack) -> None:
    frames, _ = reenact_clip(target_track.frames, target_track.landmarks, fill_gaps(driver_track.landmarks), BASE)
    seen = _landmarks_of(frames[::8])
    for k, (f, lm) in enumerate(zip(frames[::8], seen, strict=True)):
        i = 8 * k
        own = face_descriptor(target_track.frames[i], target_track.landmarks[i])
        other = face_descriptor(driver_track.frames[i], driver_track.landmarks[i])
        e = face_descriptor(f, lm)
        assert np.linalg.norm(e - own) < 0.45  # dlib: the same person is < 0.6
        assert np.linalg.norm(e - other) > 0.6


def test_only_the_face_region_changes_and_the_upper_face_stays(target_track: FaceTrack, driver_track: FaceTrack) -> None:
    frames, lms = reenact_clip(target_track.frames, target_track.landmarks, fill_gaps(driver_track.landmarks), BASE)
    for f, src, old, new in zip(frames, target_track.frames, target_track.landmarks, lms, strict=True):
        x0, y0, x1, y1 = roi_around(np.vstack([old, new]), f.shape, 0.2)
        outside = np.ones(f.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        assert np.array_equal(f[outside], src[outside])
        assert np.allclose(new[17:48], old[17:48], atol=1e-3)  # brows, nose, eyes do not move
        assert not np.allclose(new[48:68], old[48:68], atol=0.5)


def test_own_frame_fills_the_opened_mouth_with_the_targets_own_mouth(target_track: FaceTrack,
                                                                    driver_track: FaceTrack) -> None:
    """``own_frame``: the inner mouth comes from the target's most open frame (painted green here)."""
    import cv2

    from generator.reenact import INNER_MOUTH, needs_mouth_fill, reenact_frame

    frames, lms = target_track.frames, target_track.landmarks
    moved = reenact_clip(frames, lms, fill_gaps(driver_track.landmarks), BASE)[1]
    i = max(range(len(frames)), key=lambda k: mouth_opening(moved[k]))  # where the driver opens widest
    assert needs_mouth_fill(lms[i], moved[i])
    source = frames[3].copy()
    src_lm = lms[3].copy()
    src_lm[[65, 66, 67], 1] += 12  # pretend frame 3's mouth is open, and paint its inside
    cv2.fillPoly(source, [np.round(src_lm[INNER_MOUTH]).astype(np.int32)], (0, 255, 0))
    out = reenact_frame(frames[i], lms[i], moved[i], {**BASE, "mouth_fill": "own_frame"}, (source, src_lm))
    inside = np.zeros(out.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(moved[i][INNER_MOUTH]).astype(np.int32)], 1)
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0
    green = (out[..., 1].astype(int) - out[..., [0, 2]].max(-1)) > 100
    assert inside.sum() > 20 and green[inside].mean() > 0.8
    assert not green[~cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)].any()
    shaded = reenact_frame(frames[i], lms[i], moved[i], BASE)
    assert shaded[inside].mean() < frames[i][inside].mean() - 20  # shade: a dark mouth interior


def test_driver_fill_lends_the_drivers_mouth_of_each_frame(target_track: FaceTrack, driver_track: FaceTrack) -> None:
    """``driver``: the opened mouth shows the driver's mouth of the same frame (each frame's patch
    painted its own colour here); frames whose driver lends no mouth are shaded."""
    import cv2

    from generator.reenact import INNER_MOUTH, MouthPatch, needs_mouth_fill

    frames, lms = target_track.frames, target_track.landmarks
    driver = fill_gaps(driver_track.landmarks)
    inner = np.array([[5, 20], [18, 10], [30, 8], [42, 10], [55, 20], [42, 30], [30, 32], [18, 30]], np.float64)
    colours = [(0, 200, 0), (200, 0, 0)]
    mouths = []
    for k in range(len(driver)):
        img = np.zeros((40, 60, 3), np.uint8)
        img[:] = colours[k % 2]
        mouths.append(MouthPatch(img, inner, np.array([60.0, 60.0, 140.0])) if k % 3 else None)
    params = {**BASE, "mouth_fill": "driver"}
    out, moved = reenact_clip(frames, lms, driver, params, mouths)
    shaded, _ = reenact_clip(frames, lms, driver, BASE)
    checked = 0
    for i in range(len(frames)):
        if lms[i] is None or not needs_mouth_fill(lms[i], moved[i]):
            continue
        inside = np.zeros(frames[i].shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(moved[i][INNER_MOUTH]).astype(np.int32)], 1)
        inside = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0
        if inside.sum() < 20:
            continue
        if i % 3 == 0:  # no mouth lent: shaded, exactly as shade would
            assert np.array_equal(out[i], shaded[i])
        else:
            ch = 1 if i % 2 == 0 else 0
            px = out[i][inside].astype(int)
            assert ((px[:, ch] - np.delete(px, ch, axis=1).max(1)) > 60).mean() > 0.8
        checked += 1
    assert checked >= 3


def test_driven_landmarks_scale_the_drivers_motion_to_the_targets_face() -> None:
    from generator.synthetic import MEAN_SHAPE

    lower_lip = [56, 57, 58, 65, 66, 67]
    face = MEAN_SHAPE.astype(np.float64) * 100
    opening = np.array([0.0, 0.1, 0.2, 0.3, 0.2, 0.1])  # lower-lip drop, in face sizes
    driver = []
    for o in opening:  # a small face (50 px) ...
        lm = face * 0.5
        lm[lower_lip, 1] += o * 50
        driver.append(lm)
    target = face * 2 + 30  # ... drives one four times its size, elsewhere in the frame
    targets = np.stack([target] * len(opening))
    moved = driven_landmarks(targets, np.stack(driver), {"gain": 1.0, "smoothing": {"kind": "none"}})
    drop = moved[:, 57, 1] - targets[:, 57, 1]
    assert np.allclose(drop, opening * 200, atol=0.5)  # the driver's opening from its closed mouth, x4
    assert np.allclose(moved[:, 17:48], targets[:, 17:48], atol=1e-6)  # brows, nose and eyes stay


def test_smoothing_damps_jitter_and_keeps_a_steady_signal() -> None:
    rng = np.random.default_rng(0)
    steady = np.full((60, 3), 2.0)
    noisy = steady + rng.normal(0, 0.5, steady.shape)
    for spec in ({"kind": "ema", "alpha": 0.4}, {"kind": "one_euro", "min_cutoff": 1.0, "beta": 0.5}):
        assert np.allclose(smooth(steady, spec), steady)
        assert np.diff(smooth(noisy, spec), axis=0).std() < 0.6 * np.diff(noisy, axis=0).std()
    assert np.array_equal(smooth(noisy, {"kind": "none"}), noisy)
    with pytest.raises(ValueError, match="unknown smoothing"):
        smooth(noisy, {"kind": "kalman"})


def test_fill_gaps_and_most_open_frame() -> None:
    a, b = np.zeros((68, 2)), np.ones((68, 2))
    filled = fill_gaps([None, a, None, None, b])
    assert np.array_equal(filled[0], a) and np.array_equal(filled[2], a) and np.array_equal(filled[3], b)
    with pytest.raises(ValueError):
        fill_gaps([None, None])
    from generator.synthetic import MEAN_SHAPE

    closed = MEAN_SHAPE.astype(np.float64) * 100
    wide = closed.copy()
    wide[[65, 66, 67], 1] += 10
    assert most_open_frame([closed, None, wide, closed]) == (2, pytest.approx(mouth_opening(wide)))


def test_a_short_driver_loops_and_lends_the_mouth_of_the_frame_it_drives() -> None:
    """A driver shorter than the clip loops over the target's frames with a face; frames without a
    face are passed through; the mouth lent is that of the driver frame in use."""
    from generator.reenact import INNER_MOUTH, MouthPatch, needs_mouth_fill
    from generator.synthetic import MEAN_SHAPE

    face = MEAN_SHAPE * 120 + (100, 90)
    frame = np.full((260, 320, 3), 128, np.uint8)
    target = [face.copy() for _ in range(7)]
    target[2] = None  # no face in frame 2
    closed = face.copy()
    wide = face.copy()
    wide[[56, 57, 58, 65, 66, 67], 1] += 18  # the driver's jaw drops in its second frame
    driver = np.stack([closed, wide, closed])
    inner = np.array([[5, 20], [18, 10], [30, 8], [42, 10], [55, 20], [42, 30], [30, 32], [18, 30]], np.float64)
    green = np.zeros((40, 60, 3), np.uint8)
    green[..., 1] = 220
    mouths = [None, MouthPatch(green, inner, np.array([120.0, 120.0, 120.0])), None]
    params = {**BASE, "mouth_fill": "driver", "smoothing": {"kind": "none"}}
    out, moved = reenact_clip([frame] * 7, target, driver, params, mouths)
    assert out[2] is frame and moved[2] is None
    have = [0, 1, 3, 4, 5, 6]
    for j, i in enumerate(have):  # target frame i takes driver frame j % 3
        opened = needs_mouth_fill(target[i], moved[i])
        assert opened == (j % 3 == 1), (i, j)
        if opened:
            import cv2

            inside = np.zeros(frame.shape[:2], np.uint8)
            cv2.fillPoly(inside, [np.round(moved[i][INNER_MOUTH]).astype(np.int32)], 1)
            px = out[i][cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0].astype(int)
            assert len(px) > 20 and ((px[:, 1] - px[:, [0, 2]].max(1)) > 60).mean() > 0.8
    with pytest.raises(ValueError, match="mouth_fill"):
        reenact_clip([frame] * 7, target, driver, {**params, "mouth_fill": "teeth"})
