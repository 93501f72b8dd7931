"""`fakescope forensics train edges|spectrum|pulse` and `fakescope fusion fit`: what a user relies on.

Bad input fails before any work with exit 2 and one plain line naming what to fix, and never
touches an existing model file; the CLI does not import the training code until a command runs.
No test trains on ../shared/data.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fakescope.cli import build_parser, main

SENTINEL = '{"keep": "me"}\n'


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("fakescope: error: ") and "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def existing_model(tmp_path: Path) -> Path:
    """A model file already in place: a failed run must leave it as it was."""
    out = tmp_path / "models" / "model.json"
    out.parent.mkdir()
    out.write_text(SENTINEL)
    return out


def _write_manifest(d: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    d.mkdir(exist_ok=True)
    lines = ["path,label,split,identity", *(",".join(r) for r in rows)]
    (d / "manifest.csv").write_text("\n".join(lines) + "\n")
    return d


def test_parsing_the_commands_imports_no_training_code() -> None:
    code = ("import sys; from fakescope.cli import build_parser; p = build_parser(); "
            "p.parse_args(['forensics', 'train', 'edges']); p.parse_args(['fusion', 'fit', '--data', 'x']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('forensics', 'sklearn', 'cv2') "
            "or m == 'fakescope.scan.fusion_fit'))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_options_and_defaults_are_those_of_the_old_entry_points() -> None:
    parser = build_parser()
    for model in ("edges", "spectrum"):
        a = parser.parse_args(["forensics", "train", model])
        assert (a.data, a.cache, a.out, a.seed, a.testset) == (None, None, None, 0, None)  # None: shipped paths
        a = parser.parse_args(["forensics", "train", model, "--data", "d", "--cache", "c.npz", "--out", "o.json",
                               "--seed", "3", "--testset", "t1", "t2"])
        assert (a.data, a.cache, a.out, a.seed, a.testset) == (
            Path("d"), Path("c.npz"), Path("o.json"), 3, [Path("t1"), Path("t2")])
    a = parser.parse_args(["forensics", "train", "pulse"])
    assert (a.real, a.swaps, a.pseudo, a.cache, a.out, a.C, a.seed) == ([], None, False, None, None, 0.3, 0)
    a = parser.parse_args(["forensics", "train", "pulse", "--real", "a.mp4", "dir", "--pseudo", "--C", "1.5"])
    assert (a.real, a.pseudo, a.C) == (["a.mp4", "dir"], True, 1.5)
    a = parser.parse_args(["fusion", "fit", "--data", "ts"])
    assert (a.data, a.split, a.holdout, a.detector, a.out) == (Path("ts"), "val", False, "default", None)


def test_fusion_fit_needs_data(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fusion", "fit"])
    assert exc.value.code == 2
    assert "--data" in _one_error_line(capsys)


@pytest.mark.parametrize("model", ["edges", "spectrum"])
def test_face_models_on_a_folder_without_faces_exit_2(model: str, tmp_path: Path, existing_model: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "no_faces"
    empty.mkdir()
    (empty / "readme.txt").write_text("no photos or videos here\n")
    cache = tmp_path / "faces.npz"
    code = main(["forensics", "train", model, "--data", str(empty), "--cache", str(cache), "--out", str(existing_model)])
    assert code == 2
    line = _one_error_line(capsys)
    assert str(empty) in line and "--data" in line
    assert existing_model.read_text() == SENTINEL
    assert not cache.exists()  # nothing collected, nothing cached


@pytest.mark.parametrize("model", ["edges", "spectrum"])
def test_face_models_on_a_missing_folder_exit_2(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new" / "model.json"
    assert main(["forensics", "train", model, "--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert str(tmp_path / "nowhere") in _one_error_line(capsys)
    assert not out.exists() and not out.parent.exists()


def test_edges_with_a_testset_without_manifest_exits_2_before_collecting(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    not_a_testset = tmp_path / "testset"
    not_a_testset.mkdir()
    # --data does not exist either: the --testset check comes first (it is cheap, collecting faces is not)
    code = main(["forensics", "train", "edges", "--data", str(tmp_path / "nowhere"), "--testset", str(not_a_testset),
                 "--out", str(tmp_path / "edges.json")])
    assert code == 2
    line = _one_error_line(capsys)
    assert str(not_a_testset) in line and "manifest.csv" in line
    assert not (tmp_path / "edges.json").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "no real videos"),  # neither --real nor --swaps
        (["--real", "{empty}", "--pseudo"], "no real videos"),  # a folder without videos
        (["--real", "{video}"], "--pseudo"),  # reals but no fakes: say how to get some
        (["--real", "{missing}", "--pseudo"], "{missing}"),
        (["--swaps", "{empty}"], "originals.txt"),
    ],
    ids=["nothing", "empty_folder", "no_fakes", "missing_video", "swaps_without_listing"],
)
def test_pulse_without_usable_videos_exits_2(args: list[str], expected: str, tmp_path: Path, talking_head: Path,
                                             existing_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = {"empty": str(tmp_path / "empty"), "video": str(talking_head), "missing": str(tmp_path / "missing.mp4")}
    (tmp_path / "empty").mkdir()
    cache = tmp_path / "features.json"
    argv = ["forensics", "train", "pulse", *(a.format(**names) for a in args), "--cache", str(cache),
            "--out", str(existing_model)]
    assert main(argv) == 2
    assert expected.format(**names) in _one_error_line(capsys)
    assert existing_model.read_text() == SENTINEL
    assert not cache.exists()  # failed before decoding anything


def test_pulse_with_a_corrupt_cache_names_it(tmp_path: Path, talking_head: Path, existing_model: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "features.json"
    cache.write_text("{not json")
    code = main(["forensics", "train", "pulse", "--real", str(talking_head), "--pseudo", "--cache", str(cache),
                 "--out", str(existing_model)])
    assert code == 2
    line = _one_error_line(capsys)
    assert str(cache) in line and "--cache" in line
    assert existing_model.read_text() == SENTINEL


def test_fusion_fit_on_a_folder_without_manifest_names_it(tmp_path: Path, existing_model: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "not_a_testset"
    folder.mkdir()
    assert main(["fusion", "fit", "--data", str(folder), "--out", str(existing_model)]) == 2
    line = _one_error_line(capsys)
    assert str(folder) in line and "manifest.csv" in line
    assert existing_model.read_text() == SENTINEL


def test_fusion_fit_on_a_missing_folder_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fusion.json"
    assert main(["fusion", "fit", "--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert str(tmp_path / "nowhere") in _one_error_line(capsys)
    assert not out.exists()


def test_fusion_fit_on_an_empty_split_says_which_splits_exist(tmp_path: Path, existing_model: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = _write_manifest(tmp_path / "ts", [("a.mp4", "real", "train", "p1"), ("b.mp4", "fake", "test", "p2")])
    assert main(["fusion", "fit", "--data", str(data), "--out", str(existing_model)]) == 2
    line = _one_error_line(capsys)
    assert "'val'" in line and str(data) in line and "test, train" in line and "--split" in line
    assert existing_model.read_text() == SENTINEL


def test_fusion_fit_on_one_label_exits_2_before_scanning(tmp_path: Path, existing_model: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # the videos do not exist: the label check comes first, so nothing is scanned
    data = _write_manifest(tmp_path / "ts", [("a.mp4", "real", "val", "p1"), ("b.mp4", "real", "val", "p2")])
    assert main(["fusion", "fit", "--data", str(data), "--out", str(existing_model)]) == 2
    line = _one_error_line(capsys)
    assert "only real videos" in line and "both real and fake" in line
    assert existing_model.read_text() == SENTINEL


def test_fusion_fit_with_missing_videos_exits_2_before_scanning(tmp_path: Path, existing_model: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = _write_manifest(tmp_path / "ts", [("a.mp4", "real", "val", "p1"), ("b.mp4", "fake", "val", "p2")])
    assert main(["fusion", "fit", "--data", str(data), "--out", str(existing_model)]) == 2
    line = _one_error_line(capsys)
    assert str(data / "a.mp4") in line and "2 of 2" in line
    assert existing_model.read_text() == SENTINEL


def test_fusion_fit_on_a_manifest_without_split_column_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "ts"
    data.mkdir()
    (data / "manifest.csv").write_text("path,label\na.mp4,real\n")
    assert main(["fusion", "fit", "--data", str(data), "--out", str(tmp_path / "f.json")]) == 2
    assert "split" in _one_error_line(capsys)
    assert not (tmp_path / "f.json").exists()


@pytest.mark.slow
def test_pulse_trains_end_to_end_on_the_fixture_clip(tmp_path: Path, talking_head: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # two names for the 6.4 s clip: grouped cross-validation needs two source clips
    reals = tmp_path / "reals"
    reals.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(talking_head, reals / name)
    out, cache = tmp_path / "pulse.json", tmp_path / "features.json"
    argv = ["forensics", "train", "pulse", "--real", str(reals), "--pseudo", "--cache", str(cache), "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out.splitlines()
    assert sum(ln.startswith("real ") for ln in stdout) == 2 and sum(ln.startswith("pseudo ") for ln in stdout) == 2
    assert stdout[-1].startswith(f"pulse model -> {out}: grouped 2-fold CV AUC ")
    assert "2 real, 2 fake" in stdout[-1]

    from forensics.pulse import FEATURE_NAMES, load_pulse_model

    saved = json.loads(out.read_text())
    assert saved["meta"]["metrics"]["n_real"] == 2 and saved["meta"]["trained_on"] == ["pseudo", "real"]
    assert tuple(load_pulse_model(str(out)).feature_names) == FEATURE_NAMES
    assert len(json.loads(cache.read_text())) == 2  # one entry per content and kind: the copies share theirs


def test_detector_pretrain_on_a_missing_folder_exits_2_and_writes_nothing(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ssl"
    code = main(["detector", "pretrain", "--data", str(tmp_path / "nowhere"), "--arch", "meso4_contrast", "--out", str(out)])
    assert code == 2
    assert str(tmp_path / "nowhere") in _one_error_line(capsys)
    assert not out.exists()


def test_detector_pretrain_of_an_unknown_arch_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "ts"
    data.mkdir()
    code = main(["detector", "pretrain", "--data", str(data), "--arch", "no_such_net", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "no_such_net" in _one_error_line(capsys)
