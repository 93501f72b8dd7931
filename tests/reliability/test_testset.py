"""A test set built from nothing usable says why and writes nothing, instead of an empty manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescope.cli import main


def test_every_input_unusable_exits_2_naming_each_reason_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.mp4").write_text("not a video")
    (tmp_path / "in" / "empty.mp4").write_bytes(b"")
    out = tmp_path / "ts"
    assert main(["testset", "build", "--real", str(tmp_path / "in"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "none of the 2 input videos" in err[0] and "notes.mp4: is a text file" in err[0]
    assert "empty.mp4: file is empty" in err[0]
    assert not out.exists()


def test_videos_too_short_for_one_item_say_so(tmp_path: Path, no_face_video: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ts"
    assert main(["testset", "build", "--real", str(no_face_video), "--out", str(out), "--frames", "100000",
                 "--quiet"]) == 2
    assert "shorter than one 100000-frame item (lower --frames)" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_videos_without_a_face_make_no_manifest(tmp_path: Path, no_face_video: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ts"
    assert main(["testset", "build", "--real", str(no_face_video), "--out", str(out), "--frames", "8",
                 "--segments", "1", "--quiet"]) == 2
    assert "no test-set item could be made" in capsys.readouterr().err
    assert not (out / "manifest.csv").exists()
