"""Landmark-driven warps: content at the source points lands on the destination points, nothing else moves."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generator.meshwarp import border_points, remap_region, roi_around, warp_maps


def _texture(h: int = 240, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 2.0)


@pytest.mark.parametrize("method", ["pwa", "tps"])
def test_unmoved_points_give_the_identity_and_moved_ones_carry_their_content(method: str) -> None:
    img = _texture()
    pts = np.array([[120.0, 100.0], [200.0, 100.0], [160.0, 150.0], [130.0, 170.0], [190.0, 170.0]])
    roi = roi_around(pts, img.shape, 0.3)
    fixed = border_points(roi, 4)
    src = np.vstack([pts, fixed])
    same = remap_region(img, warp_maps(src, src, roi, method), roi)
    assert np.abs(same.astype(int) - img).max() <= 1
    dst = src.copy()
    dst[2] += (6.0, 9.0)  # move one point
    maps = warp_maps(src, dst, roi, method)
    x0, y0 = roi[:2]
    x, y = dst[2].astype(int)
    assert np.allclose([maps[0][y - y0, x - x0], maps[1][y - y0, x - x0]], src[2], atol=0.6)  # reads where it came from
    out = remap_region(img, maps, roi)
    outside = np.ones(img.shape[:2], bool)
    outside[roi[1]:roi[3], roi[0]:roi[2]] = False
    assert outside.any() and np.array_equal(out[outside], img[outside])
    with pytest.raises(ValueError, match="unknown warp"):
        warp_maps(src, dst, roi, "affine")
