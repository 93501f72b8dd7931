from __future__ import annotations

import json

import numpy as np
import pytest

from generator.selfblend import self_blend


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_pixels_outside_the_blend_mask_are_untouched(face, seed):
    img, lm = face
    out, mask, params = self_blend(img, lm, np.random.default_rng(seed))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert mask.shape == img.shape[:2] and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    outside = mask == 0
    assert outside.any() and (~outside).any()
    assert np.array_equal(out[outside], img[outside])
    # the face itself did change, and the mask covers the landmark hull's interior
    inside = mask > 0.2
    assert np.abs(out[inside].astype(int) - img[inside].astype(int)).mean() > 1.0
    cx, cy = lm[30]
    assert mask[int(cy), int(cx)] > 0
    json.dumps(params)  # every draw is recorded and serialisable


def test_same_seed_same_result_different_seed_differs(face):
    img, lm = face
    a, ma, pa = self_blend(img, lm, np.random.default_rng(42))
    b, mb, pb = self_blend(img, lm, np.random.default_rng(42))
    c, _, pc = self_blend(img, lm, np.random.default_rng(43))
    assert np.array_equal(a, b) and np.array_equal(ma, mb) and pa == pb
    assert pa != pc and not np.array_equal(a, c)


def test_works_on_a_larger_frame_with_the_face_inside(face):
    img, lm = face
    frame = np.full((400, 500, 3), 90, np.uint8)
    frame[100:260, 200:360] = img
    out, mask, _ = self_blend(frame, lm + np.array([200, 100], np.float32), np.random.default_rng(5))
    assert np.array_equal(out[:90], frame[:90]) and mask[:90].max() == 0
    assert np.array_equal(out[mask == 0], frame[mask == 0])


def test_rejects_bad_inputs(face):
    img, lm = face
    with pytest.raises(ValueError, match="68x2"):
        self_blend(img, lm[:10], np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8"):
        self_blend(img.astype(np.float32), lm, np.random.default_rng(0))


def test_hull_variant_blends_inside_a_stored_mask_only(face):
    """Stored aligned crops carry a hull mask, not landmarks: the blend must stay inside it
    (up to the deformation and feather), and a uint8 mask means the same as its float version."""
    from fakescope.core.faces import hull_mask
    from generator.selfblend import self_blend_hull

    img, lm = face
    hull = hull_mask(lm, img.shape[:2])
    out, mask, _ = self_blend_hull(img, (hull * 255).astype(np.uint8), np.random.default_rng(3))
    out_f, mask_f, _ = self_blend_hull(img, hull, np.random.default_rng(3))
    assert np.array_equal(out, out_f) and np.allclose(mask, mask_f, atol=1e-2)
    assert np.array_equal(out[mask == 0], img[mask == 0])
    assert np.abs(out.astype(int) - img.astype(int)).sum() > 0
    ys, xs = np.nonzero(hull > 0.5)
    far = np.ones(hull.shape, bool)
    pad = int(0.4 * max(np.ptp(xs), np.ptp(ys)))  # warp 4% + dilation 8% + feather 3 sigma (18%) of the face
    far[max(ys.min() - pad, 0):ys.max() + pad, max(xs.min() - pad, 0):xs.max() + pad] = False
    assert mask[far].max() == 0


def test_hull_variant_rejects_an_empty_or_mismatched_mask(face):
    from generator.selfblend import self_blend_hull

    img, _ = face
    with pytest.raises(ValueError, match="empty"):
        self_blend_hull(img, np.zeros(img.shape[:2], np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match="does not match"):
        self_blend_hull(img, np.ones((10, 10), np.float32), np.random.default_rng(0))


@pytest.mark.parametrize("options", [
    {"mask": "ellipse", "colour": "reinhard", "blend": "poisson", "feather": 0.04},
    {"mask": "region", "colour": "histogram", "blend": "alpha", "feather": 0.09},
    {"mask": "eroded_hull", "erode": 0.06, "colour": "none", "blend": "poisson", "feather": 0.02},
])
def test_blending_variety_keeps_pixels_outside_the_mask(face, options):
    img, lm = face
    out, mask, params = self_blend(img, lm, np.random.default_rng(0), **options)
    assert np.array_equal(out[mask == 0], img[mask == 0])
    assert np.abs(out[mask > 0.1].astype(int) - img[mask > 0.1].astype(int)).mean() > 0.5
    assert params["feather_sigma"] == pytest.approx(max(options["feather"] * max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1])), 0.5))
    json.dumps(params)


def test_default_self_blend_is_unchanged_by_the_options(face):
    """The detector's on-the-fly self-blends call it without options: the paper's recipe, same draws."""
    img, lm = face
    a = self_blend(img, lm, np.random.default_rng(5))
    b = self_blend(img, lm, np.random.default_rng(5), mask="hull", erode=0.0, feather=None, colour="none", blend="alpha")
    assert np.array_equal(a[0], b[0]) and a[2] == b[2]
