"""`scan --ray` on one local Ray instance (2 CPUs) shared by the whole module, on the bundled clips."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.scan.caselog import list_cases
from fakescope.scan.pipeline import ScanConfig, ScanResult

ray = pytest.importorskip("ray", reason="Ray is not installed (optional extra: pip install -e .[scale])")

from fakescope.scan.ray import RayOptions, RayScanner, _default_scan  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CLIPS = ("talking_head.mp4", "rotated.mp4", "generator_clip.mp4")
VOLATILE = ("timing",)  # wall-clock figures differ between any two scans


@pytest.fixture(scope="module", autouse=True)
def ray_instance() -> Iterator[None]:
    """One local Ray instance for the module: starting Ray costs seconds, so tests share it.
    RayScanner reuses a running instance and leaves it running; this fixture shuts it down."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=128 * 2**20,
             runtime_env={"env_vars": {"OMP_WAIT_POLICY": "PASSIVE"}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("clips")
    for name in CLIPS:
        shutil.copy(FIXTURES / name, d / name)
    (d / "corrupt.mp4").write_bytes(bytes(range(256)) * 40)
    return [d / name for name in (*CLIPS, "corrupt.mp4")]


def _same(a: object, b: object, path: str = "") -> None:
    """Equal records up to float noise: a worker runs torch on one thread, and another number of
    threads sums a convolution in another order (differences near 1e-9)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-6), path
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


@pytest.mark.slow
def test_ray_scan_gives_the_local_verdicts_json_and_case_log(clips: list[Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    local_json, ray_json, db = tmp_path / "local.json", tmp_path / "ray.json", tmp_path / "cases.db"
    args = [*map(str, clips), "--quiet"]
    assert main(["scan", *args, "--json", str(local_json), "--no-log"]) == 2  # corrupt.mp4: unusable input
    local_err = capsys.readouterr().err
    # `--ray` right before the videos: the first video is not taken for a cluster address.
    assert main(["scan", "--ray", *args, "--jobs", "2", "--json", str(ray_json), "--db", str(db)]) == 2
    out, err = capsys.readouterr()
    # The unusable file gets the same single line on stderr, and nothing is lost or duplicated.
    assert [ln for ln in err.splitlines() if "corrupt.mp4" in ln] == [ln for ln in local_err.splitlines()
                                                                      if "corrupt.mp4" in ln]
    assert len([ln for ln in err.splitlines() if "corrupt.mp4" in ln]) == 1
    local, remote = json.loads(local_json.read_text()), json.loads(ray_json.read_text())
    assert [r["file"] for r in remote] == [str(p) for p in clips[:3]]  # input order, whatever finished first
    assert [r["verdict"] for r in remote] == [r["verdict"] for r in local]
    for a, b in zip(local, remote, strict=True):
        a, b = ({k: v for k, v in r.items() if k not in VOLATILE} for r in (a, b))
        _same(a, b)  # same analyzers, scores and versions: models reused correctly
    assert all(f"{p}: " in out for p in clips[:3])
    cases = list_cases(db)
    assert sorted(c.file for c in cases) == sorted(str(p) for p in clips[:3])
    assert {c.sha256: c.verdict for c in cases} == {r["sha256"]: r["verdict"] for r in local}


@pytest.mark.slow
def test_resumed_ray_scan_skips_what_the_case_log_holds(clips: list[Path], tmp_path: Path,
                                                        no_face_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out_json = tmp_path / "cases.db", tmp_path / "out.json"
    assert main(["scan", str(clips[1]), "--ray", "--db", str(db), "--quiet"]) == 0
    assert len(list_cases(db)) == 1
    capsys.readouterr()
    code = main(["scan", str(clips[1]), str(clips[2]), str(no_face_video), "--ray", "--resume", "--db", str(db),
                 "--json", str(out_json), "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"{clips[1]}: skipped, already scanned" in out
    records = json.loads(out_json.read_text())
    assert isinstance(records, list) and [r["file"] for r in records] == [str(clips[2]), str(no_face_video)]
    assert len(list_cases(db)) == 3
    # Different model versions (e.g. a retrained detector) do not match: the file would be scanned again.
    from fakescope.scan.caselog import find_case

    rec = records[0]
    assert find_case(rec["sha256"], rec["versions"], db) is not None
    other = dict(rec["versions"], models={"default": "0" * 64})
    assert find_case(rec["sha256"], other, db) is None


def flaky_scan(path: str, config: ScanConfig, analyzers: list, skipped: dict) -> ScanResult:
    """Runs inside the Ray workers: counts attempts in a side file, then fails the way the name says."""
    p = Path(path)
    log = p.with_suffix(".attempts")
    attempts = len(log.read_text().splitlines()) if log.exists() else 0
    with open(log, "a") as f:
        f.write("x\n")
    if p.name.startswith("crash_always") or (p.name.startswith("crash_once") and attempts == 0):
        os._exit(3)  # the worker process dies, as on a segfault or an OOM kill
    if p.name.startswith("error_always"):
        raise RuntimeError("analyzer blew up")
    return _default_scan(path, config, analyzers, skipped)


@pytest.mark.slow
def test_crashed_and_failing_videos_are_retried_a_bounded_number_of_times_then_reported(tmp_path: Path) -> None:
    names = ("crash_once.mp4", "crash_always.mp4", "error_always.mp4", "corrupt.mp4")
    for name in names[:3]:
        shutil.copy(FIXTURES / "generator_clip.mp4", tmp_path / name)
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video at all\n" * 100)
    paths = [tmp_path / n for n in names]
    with RayScanner(ScanConfig(progress=False), RayOptions(workers=2, retries=1), scan_fn=flaky_scan) as rs:
        outcomes = {Path(o[0]).name: o for o in rs.scan(paths)}
    assert set(outcomes) == set(names)  # every video is answered for, none dropped
    attempts = {n: len((tmp_path / n).with_suffix(".attempts").read_text().splitlines()) for n in names}
    assert attempts == {"crash_once.mp4": 2, "crash_always.mp4": 2, "error_always.mp4": 2, "corrupt.mp4": 1}

    _, result, error, internal = outcomes["crash_once.mp4"]
    assert error is None and result is not None and result.record["verdict"] in ("real", "fake", "inconclusive")
    _, result, error, internal = outcomes["crash_always.mp4"]
    assert result is None and internal and "worker died on each of 2 attempts" in error
    _, result, error, internal = outcomes["error_always.mp4"]
    assert result is None and internal and error == "internal error after 2 attempts: RuntimeError: analyzer blew up"
    _, result, error, internal = outcomes["corrupt.mp4"]
    assert result is None and not internal and "\n" not in error  # unusable input: reported, not retried


@pytest.mark.parametrize(("argv", "address", "videos"), [
    (["--ray", "a.mp4", "b.mp4"], "local", ["a.mp4", "b.mp4"]),
    (["a.mp4", "--ray"], "local", ["a.mp4"]),
    (["--ray", "auto", "a.mp4"], "auto", ["a.mp4"]),
    (["--ray", "ray://head:10001", "a.mp4"], "ray://head:10001", ["a.mp4"]),
    (["--ray", "10.0.0.5:6379", "a.mp4"], "10.0.0.5:6379", ["a.mp4"]),
    (["a.mp4"], None, ["a.mp4"]),
])
def test_ray_address_is_told_apart_from_a_video(argv: list[str], address: str | None, videos: list[str]) -> None:
    from fakescope.cli import build_parser
    from fakescope.cli.scan import _ray_address_or_video

    args = build_parser().parse_args(["scan", *argv])
    _ray_address_or_video(args)
    assert (args.ray, args.videos) == (address, videos)
