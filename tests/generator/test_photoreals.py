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


def _tight_crop(frame: np.ndarray) -> np.ndarray:
    """The inner part of the face's landmark box: no chin, forehead or cheeks, as in face-crop datasets."""
    from fakescope.core.faces import detect_landmarks_image

    lm = detect_landmarks_image(frame)[0]
    (x0, y0), (x1, y1) = lm.min(axis=0), lm.max(axis=0)
    dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    return np.ascontiguousarray(frame[int(y0 + dy):int(y1 - dy), int(x0 + dx):int(x1 - dx)])


def test_tight_crops_are_found_by_reflection_padding(face_frame, tmp_path):
    from fakescope.core.faces import detect_landmarks_image

    tight = _tight_crop(face_frame)
    assert detect_landmarks_image(tight) == []  # as it is, dlib finds nothing
    (tmp_path / "utk").mkdir()
    cv2.imwrite(str(tmp_path / "utk" / "a.jpg"), tight)
    cv2.imwrite(str(tmp_path / "utk" / "b.png"), face_frame)
    manifest = build_photo_reals([tmp_path / "utk"], tmp_path / "photos", crop_size=64, progress=False)
    rows = {r["identity"]: json.loads(r["params"]) for r in csv.DictReader(manifest.open())}
    assert rows == {"utk_a": {"photos": 1, "padded": 1}, "utk_b": {"photos": 1}}


def test_an_interrupted_build_resumes_where_it_stopped(face_frame, tmp_path, monkeypatch):
    import generator.photoreals as pr

    faces = tmp_path / "faces"
    (faces / "s1").mkdir(parents=True)
    for i in range(5):
        cv2.imwrite(str(faces / "s1" / f"{i}.png"), np.roll(face_frame, 4 * i, axis=1))
    calls: list[str] = []
    real_read = pr._read

    def failing_read(photo: Path) -> np.ndarray | None:
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user stops the build during the second chunk
        calls.append(photo.name)
        return real_read(photo)

    monkeypatch.setattr(pr, "_read", failing_read)
    out = tmp_path / "photos"
    with pytest.raises(KeyboardInterrupt):
        build_photo_reals([faces], out, crop_size=48, progress=False, chunk=2)
    assert not (out / "manifest.csv").exists()  # nothing half-written as if finished
    assert calls == ["0.png", "1.png", "2.png"]
    calls.clear()
    monkeypatch.setattr(pr, "_read", lambda p: calls.append(p.name) or real_read(p))
    manifest = build_photo_reals([faces], out, crop_size=48, progress=False, chunk=2)
    assert calls == ["2.png", "3.png", "4.png"]  # the first chunk was kept, the cut one redone
    assert not (out / ".partial").exists()
    row = next(csv.DictReader(manifest.open()))
    build_photo_reals([faces], tmp_path / "clean", crop_size=48, progress=False, chunk=2)
    with np.load(out / row["crops"]) as a, np.load(tmp_path / "clean" / row["crops"]) as b:
        assert a["images"].shape == (5, 48, 48, 3) and np.array_equal(a["images"], b["images"])


def test_a_changed_photo_folder_starts_afresh(face_frame, tmp_path):
    faces = tmp_path / "faces"
    (faces / "s1").mkdir(parents=True)
    cv2.imwrite(str(faces / "s1" / "0.png"), face_frame)
    out = tmp_path / "photos"
    (out / ".partial").mkdir(parents=True)
    (out / ".partial" / "listing.json").write_text('{"key": "another listing"}')
    stale = np.zeros((1, 48, 48, 3), np.uint8)
    np.savez(out / ".partial" / "chunk_0000000.npz", index=np.array([0]), images=stale,
             masks=stale[..., 0], padded=np.array([False]))
    manifest = build_photo_reals([faces], out, crop_size=48, progress=False, chunk=2)
    row = next(csv.DictReader(manifest.open()))
    with np.load(out / row["crops"]) as z:
        assert z["images"].max() > 0  # aligned anew, not the stale chunk of another listing


def test_excluded_people_are_left_out(photo_dirs, tmp_path):
    from fakescope.cli import main

    orl, yale = photo_dirs
    assert main(["testset", "photos", "--faces", str(orl), str(yale), "--exclude", "s1/*", "--out",
                 str(tmp_path / "p"), "--quiet"]) == 0
    rows = list(csv.DictReader((tmp_path / "p" / "manifest.csv").open()))
    assert [r["identity"] for r in rows] == ["yale_subject01"]  # the test set's person s1 is not a training real
