from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescope.core.types import FaceObservation
from fakescope.provenance.fingerprint import (
    Fingerprint,
    FingerprintBuilder,
    background_gray,
    fingerprint_video,
    hamming,
    phash,
)


def _face(frame_index: int = 0) -> FaceObservation:
    # a 68-point cloud filling the middle of a 120x160 frame
    rng = np.random.default_rng(0)
    lm = np.column_stack([rng.uniform(60, 100, 68), rng.uniform(40, 90, 68)]).astype(np.float32)
    return FaceObservation(frame_index, 0.0, 0, (60, 40, 100, 90), lm)


def test_phash_is_stable_under_mild_changes_and_differs_for_other_images() -> None:
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(0, 255, (240, 320), dtype=np.uint8), (0, 0), 6)
    other = cv2.GaussianBlur(rng.integers(0, 255, (240, 320), dtype=np.uint8), (0, 0), 6)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 30])
    jpeg = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    assert hamming(phash(img), phash(img)) == 0
    assert hamming(phash(img), phash(jpeg)) <= 4
    assert hamming(phash(img), phash(cv2.resize(img, (160, 120)))) <= 4
    assert hamming(phash(img), phash(other)) >= 16


def test_background_hash_ignores_the_face_region() -> None:
    rng = np.random.default_rng(2)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (0, 0), 3)
    swapped = frame.copy()
    swapped[40:90, 60:100] = rng.integers(0, 255, (50, 40, 3), dtype=np.uint8)  # a different "face"
    face = _face()
    frame, swapped = (cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in (frame, swapped))
    assert np.array_equal(background_gray(frame, [face]), background_gray(swapped, [face]))
    assert not np.array_equal(background_gray(frame, []), background_gray(swapped, []))


def test_samples_follow_video_time_not_frame_count() -> None:
    """30 fps for 2 s, then a 1 s gap (variable frame rate), then 1 s more: 4 samples per second of time."""
    frame = np.full((120, 160, 3), 100, np.uint8)
    b = FingerprintBuilder(embeddings=False, thumbnails=False)
    stamps = [i / 30 for i in range(60)] + [3.0 + i / 30 for i in range(30)]
    for i, ts in enumerate(stamps):
        b.update(ts, frame, [], i)
    fp = b.finish(4.0)
    assert len(fp) == 16  # samples at 0, 0.25, ..., 3.75
    assert b.frame_indices[8:13] == [60, 60, 60, 60, 60]  # the frame after the gap covers the missed sample times


@pytest.mark.slow
def test_fingerprint_json_round_trip(talking_head: Path) -> None:
    fp, info = fingerprint_video(str(talking_head))
    assert len(fp) == pytest.approx(info.duration_s * 4, abs=1)
    assert fp.embeddings and fp.thumbnails and all(h is not None for h in fp.face)
    back = Fingerprint.from_json(fp.as_json())
    assert back.background == fp.background and back.face == fp.face and back.whole == fp.whole
    for k, e in fp.embeddings.items():
        assert np.allclose(back.embeddings[k], e, atol=1e-2)  # stored as float16
    with pytest.raises(ValueError, match="not a fingerprint"):
        Fingerprint.from_json({"hz": 4})
