from __future__ import annotations

import cv2
import numpy as np
import pytest

from generator.colour import histogram_match, reinhard_lab, transfer_colour


def _lab_stats(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB).reshape(-1, 3)
    return lab.mean(0), lab.std(0)


def test_reinhard_moves_the_colour_statistics_to_the_reference() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal((60, 90, 160), 12, (48, 48, 3)).clip(0, 255).astype(np.uint8)  # warm
    ref = rng.normal((150, 120, 90), 20, (48, 48, 3)).clip(0, 255).astype(np.uint8)  # cool
    out = reinhard_lab(src, ref)
    (mo, so), (mr, sr), (ms, _) = _lab_stats(out), _lab_stats(ref), _lab_stats(src)
    assert np.abs(mo - mr).max() < 1.5 < np.abs(ms - mr).max()
    assert np.allclose(so, sr, rtol=0.25)


def test_statistics_come_from_inside_the_mask_only() -> None:
    src = np.full((32, 32, 3), 100, np.uint8)
    ref = np.full((32, 32, 3), 200, np.uint8)
    ref[:, 16:] = 0  # outside the mask: must not drag the result down
    mask = np.zeros((32, 32), np.float32)
    mask[:, :16] = 1
    for mode in ("reinhard", "histogram"):
        out = transfer_colour(src, ref, mask, mode)
        assert abs(int(out[5, 5, 0]) - 200) <= 2, mode


def test_histogram_match_maps_ranks() -> None:
    src = np.tile(np.arange(0, 256, 4, dtype=np.uint8)[None, :, None], (8, 1, 3))
    ref = (src.astype(np.float32) * 0.5 + 100).astype(np.uint8)
    out = histogram_match(src, ref)
    assert np.all(np.diff(out[0, :, 1].astype(int)) >= 0)  # order kept
    assert abs(int(out.mean()) - int(ref.mean())) <= 3


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="reinhard"):
        transfer_colour(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), None, "lut")  # type: ignore[arg-type]
