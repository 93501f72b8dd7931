from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import generator.faceset as faceset_mod
from generator.faceset import build_faceset, cache_key, list_sources

CLIP = Path(__file__).resolve().parents[1] / "fixtures" / "generator_clip.mp4"


def test_extracts_aligned_faces_and_reuses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = build_faceset("clip", CLIP, tmp_path, size=32, margin=0.1, shift_y=0.15, progress=False)
    assert len(fs) == 30  # every frame of the fixture shows the face
    assert fs.images.shape == (30, 32, 32, 3) and fs.images.dtype == np.uint8
    assert fs.masks.shape == (30, 32, 32) and fs.masks.max() == 255
    assert fs.landmarks.shape == (30, 68, 2)
    # The crop is centred on the face: the landmark hull is inside the crop with room to spare.
    assert fs.landmarks.min() > 0 and fs.landmarks.max() < 32
    assert np.array_equal(fs.frames, np.arange(30))
    assert (tmp_path / "clip.npz").exists()

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("extraction ran again although the cache is valid")

    monkeypatch.setattr(faceset_mod, "_iter_source_faces", boom)
    again = build_faceset("clip", CLIP, tmp_path, size=32, margin=0.1, shift_y=0.15, progress=False)
    assert again.key == fs.key and np.array_equal(again.images, fs.images)
    with pytest.raises(AssertionError, match="extraction ran again"):  # other settings -> other key
        build_faceset("clip", CLIP, tmp_path, size=32, margin=0.2, shift_y=0.15, progress=False)


def test_cache_key_depends_on_content_and_settings() -> None:
    k = cache_key(["aa"], 64, 0.1, 0.15, 1, 100)
    assert k == cache_key(["aa"], 64, 0.1, 0.15, 1, 100)
    assert len({k, cache_key(["ab"], 64, 0.1, 0.15, 1, 100), cache_key(["aa"], 96, 0.1, 0.15, 1, 100),
                cache_key(["aa"], 64, 0.1, 0.15, 2, 100)}) == 4


def test_list_sources(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        list_sources(tmp_path / "nope.mp4")
    with pytest.raises(ValueError, match="holds no images"):
        list_sources(tmp_path)
    (tmp_path / "sub").mkdir()
    for name in ("b.JPG", "sub/a.png", "notes.txt", "c.mp4"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_sources(tmp_path)] == ["b.JPG", "c.mp4", "a.png"]
