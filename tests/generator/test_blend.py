from __future__ import annotations

import cv2
import numpy as np

from generator.blend import blend_mask, paste_face


def _disc(size: int) -> np.ndarray:
    m = np.zeros((size, size), np.float32)
    cv2.circle(m, (size // 2, size // 2), size // 3, 1.0, -1)
    return m


def test_blend_mask_is_eroded_feathered_and_inside_the_hull() -> None:
    hull = _disc(64)
    m = blend_mask(hull, erode=0.05, feather=0.05)
    assert np.all(m <= hull + 1e-6)
    assert m[32, 32] > 0.99  # solid in the middle
    edge = m[32, 32 + 64 // 3 - 1]
    assert 0.0 <= edge < 0.5  # soft and pulled in at the hull's edge
    assert len(np.unique(np.round(m, 3))) > 10  # a ramp, not a step


def test_paste_face_round_trip_through_the_inverse_affine() -> None:
    frame = np.zeros((200, 300, 3), np.uint8)
    size = 64
    # Crop of a 128 px square at (100, 40) in the frame: frame -> crop scales by 0.5.
    fwd = np.array([[0.5, 0, -50.0], [0, 0.5, -20.0]])
    inverse = cv2.invertAffineTransform(fwd)
    face = np.full((size, size, 3), 200, np.uint8)
    mask = np.ones((size, size), np.float32)
    out, used = paste_face(frame, face, mask, inverse, "feather")
    assert used.shape == (200, 300)
    ys, xs = np.nonzero(out[..., 0] > 100)
    assert abs(xs.min() - 100) <= 1 and abs(xs.max() - 227) <= 1
    assert abs(ys.min() - 40) <= 1 and abs(ys.max() - 167) <= 1
    assert not out[:, :95].any() and not out[:, 235:].any()


def test_paste_face_outside_the_frame_is_a_no_op() -> None:
    frame = np.full((50, 50, 3), 7, np.uint8)
    inverse = np.array([[1.0, 0, 500.0], [0, 1.0, 500.0]])
    out, used = paste_face(frame, np.zeros((16, 16, 3), np.uint8), np.ones((16, 16), np.float32), inverse)
    assert np.array_equal(out, frame) and not used.any()


def test_seamless_mode_blends_inside_the_mask() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    inverse = np.array([[1.0, 0, 60.0], [0, 1.0, 60.0]])
    face = np.full((64, 64, 3), 128, np.uint8)
    mask = _disc(64)
    out, used = paste_face(frame, face, mask, inverse, "seamless")
    assert out.shape == frame.shape
    assert np.array_equal(out[:50], frame[:50])  # far from the face nothing changes
