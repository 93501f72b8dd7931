from __future__ import annotations

import cv2
import numpy as np
import pytest

from generator.blend import blend_mask, laplacian_variance, match_detail, paste_face, upscale_with_detail


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


def test_every_blending_choice_is_drawn_and_recorded() -> None:
    from generator.blend import COLOUR_MODES, COMPOSITES, MASK_SHAPES, sample_blend_params

    rng = np.random.default_rng(0)
    drawn = [sample_blend_params(rng) for _ in range(200)]
    assert {d["colour"] for d in drawn} == set(COLOUR_MODES)
    assert {d["mask"] for d in drawn} == set(MASK_SHAPES)
    assert {d["blend"] for d in drawn} == set(COMPOSITES)
    assert len({d["feather"] for d in drawn}) > 2
    assert all((d["erode"] > 0) == (d["mask"] == "eroded_hull") for d in drawn)


def test_mask_shapes_cover_the_face_differently(face) -> None:
    from generator.blend import shape_mask

    img, lm = face
    masks = {k: shape_mask(lm, img.shape[:2], k) for k in ("hull", "ellipse", "region")}
    nose = tuple(int(v) for v in lm[30][::-1])
    jaw = tuple(int(v) for v in ((lm[8] * 0.9 + lm[57] * 0.1)[::-1]))  # just inside the chin
    for m in masks.values():
        assert m.dtype == np.float32 and m[nose] == 1.0
    assert masks["hull"][jaw] > 0.5 and masks["region"][jaw] == 0.0  # the region mask leaves the jaw out
    assert masks["region"].sum() < 0.8 * masks["hull"].sum()
    assert not np.array_equal(masks["ellipse"] > 0.5, masks["hull"] > 0.5)
    both = shape_mask(np.stack([lm, lm + (20, 0)]), img.shape[:2], "hull")  # a face before and after a move
    assert both.sum() > masks["hull"].sum()
    with pytest.raises(ValueError, match="unknown mask shape"):
        shape_mask(lm, img.shape[:2], "star")


@pytest.mark.parametrize("mode", ["alpha", "poisson"])
def test_composite_leaves_every_pixel_outside_the_mask_alone(face, mode: str) -> None:
    from generator.blend import composite

    img, lm = face
    src = cv2.flip(img, 1)  # other content: a uniform offset is exactly what Poisson cloning removes
    mask = np.zeros(img.shape[:2], np.float32)
    cv2.circle(mask, (80, 80), 40, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 4)
    mask[mask < 1e-3] = 0
    out = composite(img, src, mask, mode)
    assert np.array_equal(out[mask == 0], img[mask == 0])
    assert np.abs(out[mask > 0.9].astype(int) - img[mask > 0.9]).mean() > 5
    with pytest.raises(ValueError):
        composite(img, src, mask, "median")


def _textured(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 255, (size // 4, size // 4, 3), dtype=np.uint8), (size, size),
                     interpolation=cv2.INTER_CUBIC)
    return cv2.add(img, rng.integers(0, 30, (size, size, 3), dtype=np.uint8))


def test_match_detail_sharpens_a_soft_face_to_the_asked_share_of_the_original_detail() -> None:
    ref = _textured(128)
    soft = cv2.GaussianBlur(ref, (0, 0), 0.8)
    inside = _disc(128) > 0.5
    before = laplacian_variance(soft, inside) / laplacian_variance(ref, inside)
    out = match_detail(soft, ref, inside, 0.6)
    after = laplacian_variance(out, inside) / laplacian_variance(ref, inside)
    assert before < 0.3 and 0.55 <= after <= 0.7
    assert np.array_equal(match_detail(ref, soft, inside, 0.6), ref)  # already sharp enough: unchanged


def test_upscale_with_detail_pastes_a_128_px_face_where_the_decoded_crop_was() -> None:
    frame = _textured(300, seed=1)
    fwd = np.array([[0.25, 0, -25.0], [0, 0.25, -20.0]])  # a 256 px square at (100, 80) seen as a 64 px crop
    inverse = cv2.invertAffineTransform(fwd)
    crop = cv2.warpAffine(frame, fwd, (64, 64), flags=cv2.INTER_AREA)
    mask = _disc(64)
    face, big_mask, inv = upscale_with_detail(frame, crop, mask, mask, inverse, 0.8)
    assert face.shape == (128, 128, 3) and big_mask.shape == (128, 128)
    plain, used = paste_face(frame, crop, mask, inverse)
    sharp, used_big = paste_face(frame, face, big_mask, inv)
    def centre(m: np.ndarray) -> np.ndarray:
        ys, xs = np.indices(m.shape)
        return np.array([(xs * m).sum(), (ys * m).sum()]) / m.sum()

    # the same place and mask in the frame (a hard-edged mask differs only along its edge)
    assert np.abs(used - used_big).mean() < 0.01 and np.abs(centre(used) - centre(used_big)).max() < 0.3
    inside = used > 0.9
    assert laplacian_variance(sharp, inside) > 1.5 * laplacian_variance(plain, inside)
