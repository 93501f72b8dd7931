"""Still-image animation: the still's face and background, the driver's head motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.core.embedding import face_descriptor
from fakescope.core.faces import detect_landmarks_image, similarity_transform
from generator.animate import OUTER_RING, animate_clip, driven_track, head_geometry
from generator.reenact import (
    INNER_MOUTH,
    STABLE,
    MouthPatch,
    fill_gaps,
    mouth_opening,
    mouth_patch,
    needs_mouth_fill,
)

from .conftest import FaceTrack

PAD = ((160, 160), (260, 260))  # room around the fixture's head, so part of the frame lies far from it


def _moving_driver(track: FaceTrack) -> np.ndarray:
    """The driver's own landmarks plus a head roll rising to 9 degrees and a 30 px slide to the right."""
    lms = fill_gaps(track.landmarks)
    n = len(lms)
    centre = lms[0].mean(0)
    out = []
    for j, lm in enumerate(lms):
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 9.0 * j / (n - 1), 1.0)
        m[:, 2] += (30.0 * j / (n - 1), 0.0)
        out.append(lm @ m[:, :2].T + m[:, 2])
    return np.stack(out)


def _angle(m: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))


@pytest.fixture(scope="module")
def still(target_track: FaceTrack) -> tuple[np.ndarray, np.ndarray]:
    frame = np.pad(target_track.frames[0], (*PAD, (0, 0)), mode="edge").astype(np.int16)
    texture = cv2.GaussianBlur(np.random.default_rng(0).normal(0, 40, frame.shape), (0, 0), 1.5)  # no second face
    inner = np.zeros(frame.shape[:2], bool)
    inner[PAD[0][0]:-PAD[0][1], PAD[1][0]:-PAD[1][1]] = True
    frame[~inner] += texture[~inner].astype(np.int16)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    return frame, target_track.landmarks[0] + (PAD[1][0], PAD[0][0])


@pytest.mark.parametrize("warp", ["tps", "pwa"])
def test_the_head_follows_the_drivers_motion_and_the_far_background_stays(
        still: tuple[np.ndarray, np.ndarray], driver_track: FaceTrack, warp: str) -> None:
    image, lm0 = still
    driver = _moving_driver(driver_track)
    params = {"smoothing": {"kind": "none"}, "gain": 1.0, "warp": warp, "mouth_fill": "shade"}
    frames, lms = animate_clip(image, lm0, driver, params)
    assert len(frames) == len(driver) and all(f.shape == image.shape for f in frames)
    # far from the head (outside the fixed ring's box) every pixel is the still's, in every frame
    centre, half = head_geometry(lm0)
    far = np.ones(image.shape[:2], bool)
    x0, y0 = np.floor(centre - half * OUTER_RING).astype(int)
    x1, y1 = np.ceil(centre + half * OUTER_RING).astype(int) + 1
    far[max(y0, 0):y1, max(x0, 0):x1] = False
    assert far.mean() > 0.2
    for f in frames:
        assert np.array_equal(f[far], image[far])
    # dlib finds the face where the driver's head went: same roll, slide scaled to the still's face
    for j in (len(frames) // 2, len(frames) - 1):
        found = detect_landmarks_image(frames[j], upsample=0)
        assert found
        seen = found[0]
        drv_motion = similarity_transform(driver[0][STABLE], driver[j][STABLE])
        out_motion = similarity_transform(lm0[STABLE], seen[STABLE])
        assert abs(_angle(out_motion) - _angle(drv_motion)) < 2.0, (_angle(out_motion), _angle(drv_motion))
        iod = np.linalg.norm(lm0[36] - lm0[45])
        assert np.linalg.norm(seen - lms[j], axis=1).mean() / iod < 0.08  # where we said the face would be
        assert np.linalg.norm(seen.mean(0) - lm0.mean(0)) > 10  # and that is not where it was


def test_a_driver_that_holds_still_leaves_the_still_as_it_is(still: tuple[np.ndarray, np.ndarray],
                                                              driver_track: FaceTrack) -> None:
    image, lm0 = still
    frozen = np.stack([driver_track.landmarks[0]] * 5)
    for warp in ("tps", "pwa"):
        frames, lms = animate_clip(image, lm0, frozen, {"smoothing": {"kind": "none"}, "gain": 1.0, "warp": warp})
        for f, lm in zip(frames, lms, strict=True):
            assert np.abs(f.astype(int) - image).max() <= 1
            assert np.allclose(lm, lm0, atol=1e-3)


def test_the_identity_is_the_stills(still: tuple[np.ndarray, np.ndarray], driver_track: FaceTrack) -> None:
    image, lm0 = still
    params = {"smoothing": {"kind": "ema", "alpha": 0.7}, "gain": 1.0, "warp": "tps", "mouth_fill": "shade"}
    frames, _ = animate_clip(image, lm0, fill_gaps(driver_track.landmarks), params)
    own = face_descriptor(image, lm0)
    other = face_descriptor(driver_track.frames[0], driver_track.landmarks[0])
    for f in frames[8::8]:
        seen = detect_landmarks_image(f, upsample=0)[0]
        e = face_descriptor(f, seen)
        assert np.linalg.norm(e - own) < 0.45  # dlib: the same person is < 0.6
        assert np.linalg.norm(e - other) > 0.6


def test_head_motion_carries_over_at_the_stills_scale() -> None:
    from generator.synthetic import MEAN_SHAPE

    small = MEAN_SHAPE.astype(np.float64) * 50 + 10  # a 50 px driver face ...
    shift = np.array([5.0, 0.0])
    driver = np.stack([small, small + shift])  # ... slides 5 px (a tenth of its size) to the right
    still = MEAN_SHAPE.astype(np.float64) * 200 + 100  # the still's face is 200 px
    lms, motions = driven_track(still, driver, {"gain": 1.0, "smoothing": {"kind": "none"}})
    assert np.allclose(lms[0], still, atol=1e-6)
    assert np.allclose(lms[1] - still, [20.0, 0.0], atol=1e-6)  # a tenth of 200 px
    assert np.allclose(motions[1][:, :2], np.eye(2), atol=1e-9)


def _inside(lm: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    m = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(m, [np.round(lm[INNER_MOUTH]).astype(np.int32)], 1)
    return cv2.erode(m, np.ones((3, 3), np.uint8)) > 0


def test_the_drivers_own_mouth_fills_the_opened_mouth(still: tuple[np.ndarray, np.ndarray],
                                                      driver_track: FaceTrack) -> None:
    """``driver``: where the still's mouth opens wider than its own, the driver's mouth of that frame
    (painted green here) shows inside it; ``shade`` draws a dark one; ``none`` leaves the warp, and
    outside the mouth all three are the same frame."""
    image, lm0 = still
    track = fill_gaps(driver_track.landmarks)
    green = np.zeros((40, 60, 3), np.uint8)
    green[..., 1] = 200
    inner = np.array([[5, 20], [18, 10], [30, 8], [42, 10], [55, 20], [42, 30], [30, 32], [18, 30]], np.float64)
    mouths = [MouthPatch(green, inner, np.array([60.0, 60.0, 140.0]))] * len(track)
    base = {"smoothing": {"kind": "none"}, "gain": 1.25, "warp": "tps"}
    out = {fill: animate_clip(image, lm0, track, {**base, "mouth_fill": fill}, mouths) for fill in ("driver", "shade", "none")}
    lms = out["none"][1]
    opened = [j for j, lm in enumerate(lms) if needs_mouth_fill(lm0, lm)]
    assert opened, "the fixture driver must open its mouth wider than the still's"
    for j in opened:
        inside = _inside(lms[j], image.shape)
        assert inside.sum() > 20
        drv, shade, none = (out[f][0][j] for f in ("driver", "shade", "none"))
        is_green = (drv[..., 1].astype(int) - drv[..., [0, 2]].max(-1)) > 80
        assert is_green[inside].mean() > 0.8
        assert shade[inside].mean() < none[inside].mean() - 20  # shade: dark; none: the stretched lips
        near = cv2.dilate(inside.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
        assert np.array_equal(drv[~near], none[~near]) and np.array_equal(shade[~near], none[~near])
    closed = [j for j in range(len(lms)) if j not in opened]
    for j in closed:  # nothing to fill: the warp alone, whatever the fill
        assert np.array_equal(out["driver"][0][j], out["none"][0][j])


def test_driver_fill_shades_where_the_driver_lends_no_mouth(still: tuple[np.ndarray, np.ndarray],
                                                            driver_track: FaceTrack) -> None:
    image, lm0 = still
    track = fill_gaps(driver_track.landmarks)
    params = {"smoothing": {"kind": "none"}, "gain": 1.25, "warp": "tps"}
    shaded, _ = animate_clip(image, lm0, track, {**params, "mouth_fill": "shade"})
    fallback, _ = animate_clip(image, lm0, track, {**params, "mouth_fill": "driver"}, [None] * len(track))
    assert all(np.array_equal(a, b) for a, b in zip(shaded, fallback, strict=True))
    with pytest.raises(ValueError, match="mouth_fill"):
        animate_clip(image, lm0, track, {**params, "mouth_fill": "teeth"})


def test_a_mouth_patch_keeps_an_open_mouth_and_refuses_a_closed_one(driver_track: FaceTrack) -> None:
    frames, lms = driver_track.frames, driver_track.landmarks
    widest = max((k for k in range(len(lms)) if lms[k] is not None), key=lambda k: mouth_opening(lms[k]))
    lm = np.asarray(lms[widest], np.float64).copy()
    lm[[65, 66, 67], 1] += 6  # open it for certain
    patch = mouth_patch(frames[widest], lm)
    assert patch is not None
    x0, y0 = np.floor(np.maximum(lm[48:68].min(0) - 0.3 * np.ptp(lm[48:68, 0]), 0)).astype(int)
    assert np.allclose(patch.inner, lm[60:68] - (x0, y0))  # the polygon in the crop's pixels
    cx, cy = np.round(lm[60:68].mean(0)).astype(int)
    px, py = np.round(patch.inner.mean(0)).astype(int)
    assert np.array_equal(patch.image[py, px], frames[widest][cy, cx])
    closed = lm.copy()
    closed[60:68] = closed[[60, 61, 62, 63, 64, 63, 62, 61]]  # inner lips pressed together
    assert mouth_patch(frames[widest], closed) is None
