import csv
from pathlib import Path

import numpy as np
import pytest

from forensics.facedata import FaceSample, heldout_sources, source_key, split_samples


def _face(identity: str, source: str) -> FaceSample:
    return FaceSample(identity, source, np.zeros((8, 8, 3), np.uint8), np.zeros((68, 2), np.float32))


def _manifest(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    d = tmp_path / "ts"
    d.mkdir()
    with (d / "manifest.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "label", "source", "identity", "split"])
        w.writeheader()
        for source, split in rows:
            w.writerow({"path": "items/x.mp4", "label": "real", "source": source, "identity": Path(source).stem, "split": split})
    return d


def test_source_key_matches_absolute_manifest_paths_to_root_relative_samples():
    assert source_key("/data/shared/videos/LivePortrait/driving/d3.mp4") == "driving/d3.mp4"
    assert source_key("videos/LivePortrait/driving/d3.mp4#45") == "driving/d3.mp4"
    assert source_key("..\\shared\\videos\\source\\s20.mp4") == "source/s20.mp4"


def test_holdout_sources_are_the_val_and_test_videos_only(tmp_path):
    d = _manifest(tmp_path, [("/abs/driving/d3.mp4", "test"), ("/abs/driving/d0.mp4", "val"), ("/abs/driving/d10.mp4", "train")])
    assert heldout_sources([d]) == {"driving/d3.mp4", "driving/d0.mp4"}
    with pytest.raises(ValueError, match="manifest.csv"):
        heldout_sources([tmp_path])


def test_split_never_trains_on_a_test_sets_identities_or_photos_of_their_collection(tmp_path):
    samples = [
        _face("d3", "videos/LP/driving/d3.mp4#0"),
        _face("d3", "videos/LP/driving/d3.mp4#15"),
        _face("d3", "videos/other/d3.jpg"),  # same name elsewhere: the same person, not trained on
        _face("d30", "videos/LP/driving/d30.jpg"),  # a photo of a held-out video's collection: may be that person
        _face("miranda", "faces/LP/examples/miranda.png"),  # also when stored under faces/
        _face("d10", "videos/LP/driving/d10.mp4#0"),  # a train-split video of that collection trains
        _face("s1", "faces/deepface/s1.jpg"),
    ]
    d = _manifest(tmp_path, [("/abs/driving/d3.mp4", "test"), ("/abs/driving/d10.mp4", "train")])
    train, held = split_samples(samples, heldout_sources([d]))
    assert [s.source for s in held] == ["videos/LP/driving/d3.mp4#0", "videos/LP/driving/d3.mp4#15"]
    assert [s.source for s in train] == ["videos/LP/driving/d10.mp4#0", "faces/deepface/s1.jpg"]


def test_split_refuses_a_test_set_built_from_other_data(tmp_path):
    d = _manifest(tmp_path, [("/abs/driving/d99.mp4", "test")])
    with pytest.raises(ValueError, match="--data"):
        split_samples([_face("d3", "videos/LP/driving/d3.mp4#0")], heldout_sources([d]))


def test_split_without_a_test_set_is_the_stable_identity_hash():
    samples = [_face(f"p{i}", f"faces/x/p{i}.jpg") for i in range(40)]
    train, held = split_samples(samples)
    assert len(train) + len(held) == 40 and held and train
    assert {s.identity for s in train}.isdisjoint({s.identity for s in held})
    assert split_samples(samples) == (train, held)
