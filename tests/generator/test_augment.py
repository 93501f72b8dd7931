from __future__ import annotations

import numpy as np
import pytest

from fakescope.core.faces import hull_mask
from generator.augment import (
    FLIP_68,
    AugmentConfig,
    apply_affine,
    augment_batch,
    random_affine,
    random_grid_warp,
)
from generator.synthetic import MEAN_SHAPE, synthetic_faceset

SIZE = 256


def coordinate_image(size: int = SIZE) -> np.ndarray:
    """Pixel (x, y) holds x in channel 0 and y in channel 1: a warped copy tells where each pixel came from."""
    ys, xs = np.mgrid[0:size, 0:size]
    img = np.zeros((size, size, 3), np.uint8)
    img[..., 0], img[..., 1] = xs, ys
    return img


def test_flip_permutation_is_a_mirror_involution() -> None:
    assert sorted(FLIP_68.tolist()) == list(range(68))
    assert np.array_equal(FLIP_68[FLIP_68], np.arange(68))
    mirrored = MEAN_SHAPE.copy()
    axis = MEAN_SHAPE[27:31, 0].mean()  # nose bridge
    mirrored[:, 0] = 2 * axis - mirrored[:, 0]
    # The mean face is nearly symmetric: mirrored and relabelled, it lies on top of the original
    # (the jaw of this mean is slightly turned; a wrong pairing is off by a tenth of the face or more).
    assert np.abs(mirrored[FLIP_68] - MEAN_SHAPE).max() < 0.05


@pytest.mark.parametrize("seed", range(6))
def test_affine_moves_landmarks_with_the_pixels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cfg = AugmentConfig(rotate_deg=20, zoom=0.1, shift=0.05, flip_p=0.5)
    lm = MEAN_SHAPE * SIZE
    img = coordinate_image()
    mask = hull_mask(lm, (SIZE, SIZE))
    m, flipped = random_affine(rng, SIZE, cfg)
    out, out_mask, out_lm = apply_affine(img, mask, lm, m, flipped)
    # The pixel now under each moved landmark came from the original landmark position.
    source = lm[FLIP_68] if flipped else lm
    xi, yi = np.round(out_lm[:, 0]).astype(int), np.round(out_lm[:, 1]).astype(int)
    inside = (xi >= 0) & (xi < SIZE) & (yi >= 0) & (yi < SIZE)
    assert inside.mean() > 0.9
    read = out[yi[inside], xi[inside], :2].astype(np.float64)
    assert np.abs(read - source[inside]).max() <= 1.5
    # The mask moved with them: it equals the hull of the moved landmarks.
    expected = hull_mask(out_lm, (SIZE, SIZE)) > 0.5
    got = out_mask > 0.5
    assert (expected & got).sum() / (expected | got).sum() > 0.95


def test_flip_keeps_semantic_landmark_order() -> None:
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(rotate_deg=0, zoom=0, shift=0, flip_p=1.0)
    m, flipped = random_affine(rng, SIZE, cfg)
    assert flipped
    lm = MEAN_SHAPE * SIZE
    _, _, out = apply_affine(coordinate_image(), np.zeros((SIZE, SIZE), np.float32), lm, m, flipped)
    # Point 36 is still the outer corner of the eye on the image's left, the jaw still runs left to right.
    assert out[36, 0] < out[45, 0]
    assert out[0, 0] < out[16, 0]
    assert out[48, 0] < out[54, 0]


def test_grid_warp_is_smooth_local_and_pins_the_border() -> None:
    rng = np.random.default_rng(3)
    img = coordinate_image()
    warped = random_grid_warp(img, rng, grid=5, std=0.02)
    disp = warped[..., :2].astype(np.float64) - img[..., :2]
    assert np.abs(disp).mean() > 0.5  # it does move pixels
    assert np.abs(disp).max() < 0.15 * SIZE  # ... but only locally
    assert np.abs(disp[0, :]).max() <= 1 and np.abs(disp[:, 0]).max() <= 1


def test_augment_batch_warps_input_but_not_target() -> None:
    fs = synthetic_faceset("a", n=4, size=64)
    still = AugmentConfig(rotate_deg=0, zoom=0, shift=0, flip_p=0, brightness=0, contrast=0, saturation=0, warp_std=0.03)
    b = augment_batch(fs.images, fs.masks, fs.landmarks, np.random.default_rng(0), still)
    assert b.inputs.shape == b.targets.shape == (4, 64, 64, 3)
    assert np.allclose(b.targets, fs.images / 255.0, atol=1e-6)  # identity pose: target is the face itself
    assert np.allclose(b.landmarks, fs.landmarks, atol=1e-4)
    assert np.abs(b.inputs - b.targets).mean() > 0.005  # the input alone is distorted


def test_augment_batch_is_reproducible_and_consistent() -> None:
    fs = synthetic_faceset("a", n=6, size=64)
    b1 = augment_batch(fs.images, fs.masks, fs.landmarks, np.random.default_rng(5))
    b2 = augment_batch(fs.images, fs.masks, fs.landmarks, np.random.default_rng(5))
    assert np.array_equal(b1.inputs, b2.inputs) and np.array_equal(b1.landmarks, b2.landmarks)
    for i in range(6):
        expected = hull_mask(b1.landmarks[i], (64, 64)) > 0.5
        got = b1.masks[i] > 0.5
        assert (expected & got).sum() / (expected | got).sum() > 0.85
    assert 0.0 <= b1.inputs.min() and b1.inputs.max() <= 1.0


def test_augment_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="N, S, S, 3"):
        augment_batch(np.zeros((2, 8, 8), np.uint8), np.zeros((2, 8, 8)), np.zeros((2, 68, 2)), np.random.default_rng(0))
