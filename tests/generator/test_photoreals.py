import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.data import load_crops
from detector.sbi import real_weights
from detector.train import TrainConfig, train_detector
from fakescope.core.video import iter_frames
from generator.photoreals import build_photo_reals, subject_of
from tests.detector.conftest import build_testset, with_face_masks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def face_frame() -> np.ndarray:
    for _, _, frame in iter_frames(FIXTURES / "talking_head.mp4"):
        return frame
    raise AssertionError("fixture clip has no frames")


@pytest.fixture(scope="module")
def photo_dirs(tmp_path_factory, face_frame) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("faces")
    orl, yale = root / "orl", root / "yale"
    (orl / "s1").mkdir(parents=True)
    yale.mkdir()
    grey = cv2.cvtColor(face_frame, cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(orl / "s1" / "1.pgm"), grey)
    cv2.imwrite(str(orl / "s1" / "2.pgm"), cv2.flip(grey, 1))
    ok, png = cv2.imencode(".png", face_frame)
    (yale / "subject01.happy").write_bytes(png.tobytes())  # Yale names carry no image suffix
    (yale / "Readme.txt").write_text("not an image")
    cv2.imwrite(str(yale / "blank.png"), np.full((200, 200, 3), 127, np.uint8))  # no face: skipped
    return orl, yale


def test_photos_become_train_split_real_items_one_per_person(photo_dirs, tmp_path):
    manifest = build_photo_reals(list(photo_dirs), tmp_path / "photos", crop_size=96, progress=False)
    rows = list(csv.DictReader(manifest.open()))
    assert sorted(r["identity"] for r in rows) == ["orl_s1", "yale_subject01"]
    assert {(r["label"], r["method"], r["split"]) for r in rows} == {("real", "photo", "train")}
    orl = next(r for r in rows if r["identity"] == "orl_s1")
    assert json.loads(orl["params"]) == {"photos": 2}
    with np.load(tmp_path / "photos" / orl["crops"]) as z:
        assert z["images"].shape == (2, 96, 96, 3) and z["masks"].shape == (2, 96, 96)
        assert z["masks"][:, 48, 48].min() == 255 and z["masks"][:, 2, 2].max() == 0  # the face hull, centred


def test_subject_names_follow_the_folder_or_file_layout(tmp_path):
    root = tmp_path / "att"
    assert subject_of(root / "s7" / "3.pgm", root) == "att_s7"
    assert subject_of(root / "subject12.sad", root) == "att_subject12"
    assert subject_of(root / "pics" / "img4.jpg", root) == "att_pics_img4"


def test_photos_are_only_sources_of_self_blends(photo_dirs, tmp_path):
    photos = tmp_path / "photos"
    build_photo_reals(list(photo_dirs), photos, crop_size=48, progress=False)
    videos = with_face_masks(build_testset(tmp_path / "ts", {"train": 2, "val": 1, "test": 1}, frames=3, size=48))
    train = load_crops([videos, photos], 48).splits["train"]
    is_photo = np.isin(train.video, np.flatnonzero(np.asarray(train.video_methods) == "photo"))
    assert is_photo.any()
    assert train.balanced_weights()[is_photo].sum() == 0  # never drawn as a plain "real" sample
    assert real_weights(train)[is_photo].sum() == pytest.approx(0.5)  # half of the self-blend sources
    cfg = TrainConfig(epochs=1, batch_size=8, input_size=32, steps_per_epoch=1, progress=False)
    with pytest.raises(ValueError, match="--sbi"):
        train_detector([videos, photos], "meso4", tmp_path / "run", cfg)


def test_cli_builds_a_photo_set_and_refuses_a_missing_folder_with_one_line(photo_dirs, tmp_path, capsys):
    from fakescope.cli import main

    assert main(["testset", "photos", "--faces", *map(str, photo_dirs), "--out", str(tmp_path / "p"), "--quiet"]) == 0
    assert (tmp_path / "p" / "manifest.csv").is_file()
    capsys.readouterr()
    assert main(["testset", "photos", "--faces", str(tmp_path / "nowhere"), "--out", str(tmp_path / "q")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "nowhere" in err[0] and "not a directory" in err[0]
