"""The invisible watermark: found in what we mark, with its payload, through resize and crop; never in what we do not."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.video import iter_frames
from generator.watermark import (
    PAYLOADS,
    THRESHOLD,
    WatermarkEmbedder,
    detect_watermark,
    payload_for,
    sample_indices,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return [f for i, _, f in iter_frames(FIXTURES / "talking_head.mp4") if i < 24]


def test_payloads_name_the_method() -> None:
    assert payload_for("ae_swap") == "fakescope:ae_swap" and payload_for("self_blend") == "fakescope:self_blend"
    assert payload_for("something_new") == "fakescope"
    assert len(set(PAYLOADS)) == len(PAYLOADS)
    assert sample_indices(10) == list(range(10)) and len(sample_indices(1000)) == 32 and sample_indices(0) == []


def test_marked_frames_are_found_with_their_payload_and_barely_changed(frames: list[np.ndarray]) -> None:
    emb = WatermarkEmbedder("fakescope:warp")
    marked = [emb.embed(f) for f in frames]
    assert min(cv2.PSNR(a, b) for a, b in zip(frames, marked, strict=True)) > 38.0
    got = detect_watermark(marked)
    assert got.found and got.payload == "fakescope:warp" and got.score > 2 * THRESHOLD
    assert got.frames == len(frames)


def test_unmarked_frames_are_not_flagged(frames: list[np.ndarray]) -> None:
    got = detect_watermark(frames)
    assert not got.found and got.payload is None and got.score < THRESHOLD - 1.0
    noise = np.random.default_rng(0).integers(0, 256, (12, 120, 160, 3), dtype=np.uint8)
    assert not detect_watermark(list(noise)).found


@pytest.mark.slow
def test_found_after_a_resize_and_a_crop(frames: list[np.ndarray]) -> None:
    marked = [WatermarkEmbedder("fakescope:ae_swap").embed(f) for f in frames]
    h, w = marked[0].shape[:2]
    small = [cv2.resize(f, (round(w * 0.75), round(h * 0.75)), interpolation=cv2.INTER_AREA) for f in marked]
    dy, dx = round(h * 0.05), round(w * 0.05)
    cropped = [f[dy:h - dy - 3, dx + 2:w - dx] for f in marked]  # 10% off, not centred on the tile grid
    for variant in (small, cropped):
        got = detect_watermark(variant)
        assert got.found and got.payload == "fakescope:ae_swap"
    assert detect_watermark(cropped).scale == pytest.approx(1 / 0.9, abs=0.02)


def test_unknown_payload_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown watermark payload"):
        WatermarkEmbedder("someone-else")
