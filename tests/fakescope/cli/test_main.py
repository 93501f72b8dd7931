import json
from pathlib import Path

import pytest

from fakescope.cli import main


def _bad_files(tmp_path: Path, talking_head: Path) -> dict[str, Path]:
    files = {
        "empty": tmp_path / "empty.mp4",
        "text": tmp_path / "notes.mp4",
        "corrupt": tmp_path / "corrupt.mp4",
        "truncated": tmp_path / "truncated.mp4",
        "still": tmp_path / "still.jpg",
        "missing": tmp_path / "missing.mp4",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("this is not a video\n")
    files["corrupt"].write_bytes(bytes(range(256)) * 40)
    files["truncated"].write_bytes(talking_head.read_bytes()[:30_000])
    import cv2
    import numpy as np

    cv2.imwrite(str(files["still"]), np.full((64, 64, 3), 128, np.uint8))
    return files


@pytest.mark.slow
def test_bad_inputs_exit_2_with_one_line_each_and_good_file_still_reported(
    tmp_path: Path, talking_head: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_files(tmp_path, talking_head)
    out = tmp_path / "out.json"
    code = main(["scan", str(talking_head), *map(str, bad.values()), "--json", str(out), "--quiet"])
    assert code == 2
    err_lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err_lines) == len(bad)
    for path in bad.values():
        assert sum(str(path) in ln for ln in err_lines) == 1
    assert not any("Traceback" in ln for ln in err_lines)
    records = json.loads(out.read_text())
    assert isinstance(records, list) and len(records) == 1
    assert records[0]["file"] == str(talking_head)


@pytest.mark.parametrize("kind", ["empty", "text", "corrupt", "truncated", "still", "missing"])
def test_each_bad_input_alone(tmp_path: Path, talking_head: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    path = _bad_files(tmp_path, talking_head)[kind]
    assert main(["scan", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]


def test_no_face_video_is_inconclusive(no_face_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    assert main(["scan", str(no_face_video), "--json", str(out), "--quiet"]) == 0
    rec = json.loads(out.read_text())
    assert rec["verdict"] == "inconclusive"
    assert {k: rec["faces"][k] for k in ("frames_with_face", "frames_judged", "tracks")} == \
        {"frames_with_face": 0, "frames_judged": 0, "tracks": 0}
    assert rec["faces"]["not_judged"]["not_found"] == rec["video"]["frames"]
    assert all(a["status"] == "insufficient" for a in rec["analyzers"].values())
    an = rec["analyzers"]  # DESIGN.md's keys are there even with nothing to report
    assert an["pulse"]["bpm"] is None and an["blink"]["rate_per_min"] is None and an["blink"]["events"] == []
    assert an["detector"]["per_frame"] == [] and an["edges"]["per_frame"] == []


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.slow
def test_jobs_scans_videos_in_parallel_and_keeps_order(talking_head: Path, no_face_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    assert main(["scan", str(talking_head), str(no_face_video), "--jobs", "2", "--json", str(out), "--quiet",
                 "--no-log"]) == 0
    recs = json.loads(out.read_text())
    assert [r["file"] for r in recs] == [str(talking_head), str(no_face_video)]
    assert recs[1]["verdict"] == "inconclusive"
