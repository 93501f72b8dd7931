import numpy as np
import pytest

from detector.data import load_crops

from .conftest import build_testset


def test_splits_labels_and_resize(tiny_testset):
    data = load_crops([tiny_testset], size=32)
    train = data.splits["train"]
    assert train.images.shape == (4 * 2 * 6, 32, 32, 3)
    assert train.video_labels.tolist().count(1) == 4
    assert set(train.video_methods) == {"real", "ae_swap", "self_blend"}
    assert len(data.splits["val"].video_labels) == 4
    assert np.array_equal(train.frames[:6], np.arange(6) * 3)
    assert len(data.manifest_hash) == 64
    assert data.crop_size == 40  # stored size, before resizing to the model input


def test_frames_per_video_are_capped_evenly(tiny_testset):
    split = load_crops([tiny_testset], size=32, max_frames_per_video=3).splits["train"]
    assert len(split) == 8 * 3
    assert split.frames[:3].tolist() == [0, 6, 15]  # rows 0, 2, 5 of 6 (frames are 3 apart)


def test_excluded_method_is_held_out_of_train_and_val_only(tiny_testset):
    data = load_crops([tiny_testset], size=32, exclude_methods=("self_blend",))
    assert "self_blend" not in data.splits["train"].video_methods
    assert "self_blend" not in data.splits["val"].video_methods
    assert "self_blend" in data.splits["test"].video_methods or "ae_swap" in data.splits["test"].video_methods


def test_balanced_weights_give_each_class_half(tmp_path):
    root = build_testset(tmp_path / "t", videos_per_split={"train": 3, "val": 1}, frames=5)
    split = load_crops([root], size=16).splits["train"]
    w = split.balanced_weights()
    assert w.sum() == pytest.approx(1.0)
    assert w[split.labels == 1].sum() == pytest.approx(0.5)
    per_video = [w[split.video == v].sum() for v in range(len(split.video_labels))]
    assert np.allclose(per_video, per_video[0])


def test_manifest_hash_names_the_data_not_the_order(tmp_path):
    a = build_testset(tmp_path / "a", seed=1)
    b = build_testset(tmp_path / "b", seed=2)
    h_ab = load_crops([a, b], size=16).manifest_hash
    assert h_ab == load_crops([b, a], size=16).manifest_hash
    assert h_ab != load_crops([a], size=16).manifest_hash


def test_missing_manifest_or_crops_column(tmp_path):
    with pytest.raises(ValueError, match="no manifest.csv"):
        load_crops([tmp_path], size=32)
    (tmp_path / "manifest.csv").write_text("path,label,split\nx.mp4,real,train\n")
    with pytest.raises(ValueError, match="crops"):
        load_crops([tmp_path], size=32)


def test_fusion_holdout_keeps_half_the_val_identities_away(tiny_testset):
    import csv

    from fakescope.core.splits import holdout_of_rows

    with open(tiny_testset / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    held = holdout_of_rows(rows)
    assert held  # the fixture has several val identities
    full = load_crops([tiny_testset], size=32).splits["val"]
    part = load_crops([tiny_testset], size=32, fusion_holdout=True).splits["val"]
    kept = {k for k in part.video_keys}
    held_keys = {f"{tiny_testset}::{r['path']}" for r in rows if r["split"] == "val" and r["identity"] in held}
    assert 0 < len(part.video_labels) < len(full.video_labels)
    assert not kept & held_keys
    assert len(load_crops([tiny_testset], size=32, fusion_holdout=True).splits["train"]) == len(
        load_crops([tiny_testset], size=32).splits["train"])  # train and test are untouched
