"""A batch survives its own failures: a broken case log, a dead worker, a killed parent, bad outputs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.scan.batch import WORKER_DIED, Outcome, scan_local
from fakescope.scan.pipeline import ScanConfig

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- outputs checked first


@pytest.mark.parametrize("flag", ["--json", "--report"])
def test_an_output_onto_a_directory_is_refused_before_any_scan(tmp_path: Path, talking_head: Path, flag: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    assert main(["scan", str(talking_head), flag, str(tmp_path), "--quiet", "--no-log"]) == 2
    assert time.perf_counter() - started < 5  # refused up front, not after the scan
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a directory" in err[0] and flag in err[0]


def test_an_output_under_a_file_is_refused(tmp_path: Path, talking_head: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["scan", str(talking_head), "--json", str(tmp_path / "file" / "v.json"), "--quiet", "--no-log"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["audit", "--data", "x.csv", "--out", "{file}"],
    ["testset", "build", "--real", "x.mp4", "--out", "{file}"],
    ["testset", "photos", "--faces", "x", "--out", "{file}"],
    ["detector", "train", "--data", "x", "--arch", "meso4", "--out", "{file}"],
    ["swap", "eval", "--run", "r", "--input", "a.mp4", "--swapped", "b.mp4", "--source", "a", "--to", "b",
     "--out", "{file}"],
])
def test_an_output_folder_that_is_a_file_is_refused_with_one_line(tmp_path: Path, argv: list[str],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main([a.replace("{file}", str(target)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists and is not a folder" in err[0]
    assert target.read_text() == "keep me"


def test_an_unreadable_video_is_unusable_input_not_an_internal_error(tmp_path: Path, talking_head: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import fakescope.core.video as video

    def denied(path: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(video, "_sniff", denied)
    assert main(["scan", str(talking_head), "--quiet", "--no-log"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"fakescope: error: {talking_head}: cannot be read: permission denied"]


def test_a_newline_in_a_file_name_stays_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odd = tmp_path / "two\nlines.mp4"
    odd.write_text("not a video")
    assert main(["scan", str(odd), "--quiet", "--no-log"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "two\\nlines.mp4" in err[0]


# ----------------------------------------------------------------------------- the case log


@pytest.mark.slow
def test_a_case_log_that_is_not_a_database_costs_a_warning_not_the_batch(
        tmp_path: Path, talking_head: Path, no_face_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cases.db"
    bad.write_text("this is not a database")
    out = tmp_path / "v.json"
    assert main(["scan", str(talking_head), str(no_face_video), "--db", str(bad), "--json", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(out.read_text())) == 2  # both verdicts written
    assert captured.out.count("P(fake)=") == 2
    warnings = [ln for ln in captured.err.splitlines() if "warning" in ln]
    assert len(warnings) == 1 and "not an SQLite database" in warnings[0]
    assert bad.read_text() == "this is not a database"  # left as it was


@pytest.mark.slow
def test_a_locked_case_log_is_reported_within_seconds(tmp_path: Path, talking_head: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cases.db"
    assert main(["scan", str(talking_head), "--db", str(db), "--quiet"]) == 0  # creates the log
    holder = sqlite3.connect(str(db), timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        assert main(["scan", str(talking_head), "--db", str(db), "--json", str(tmp_path / "v.json"), "--quiet"]) == 0
        assert time.perf_counter() - started < 25
    finally:
        holder.rollback()
        holder.close()
    assert "locked by another process" in capsys.readouterr().err
    assert json.loads((tmp_path / "v.json").read_text())["verdict"]


def test_cases_list_on_a_non_database_exits_2_with_one_line(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cases.db"
    bad.write_bytes(os.urandom(2048))
    assert main(["cases", "list", "--db", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]


# ----------------------------------------------------------------------------- workers


def fake_scan(path: str | Path, config: ScanConfig) -> Outcome:
    """A stand-in scan for real worker processes: "killer" videos kill their worker."""
    name = Path(path).name
    if name.startswith("killer"):
        os._exit(9)
    time.sleep(0.2)
    return str(path), None, f"scanned {name}", False


@pytest.mark.slow
def test_a_video_that_kills_its_worker_is_retried_alone_then_reported_and_the_rest_go_on(tmp_path: Path) -> None:
    paths = [tmp_path / f"v{i}.mp4" for i in range(6)]
    paths.insert(2, tmp_path / "killer.mp4")
    outcomes = list(scan_local(paths, ScanConfig(progress=False), jobs=2, scan_fn=fake_scan))
    by_path = {o[0]: o for o in outcomes}
    assert sorted(by_path) == sorted(map(str, paths))  # every video answered exactly once
    assert len(outcomes) == len(paths)
    assert by_path[str(tmp_path / "killer.mp4")][2:] == (WORKER_DIED, True)
    assert all(by_path[str(p)][2] == f"scanned {p.name}" for p in paths if p.name != "killer.mp4")


def _workers_of(pid: int) -> list[int]:
    """Scan worker processes (spawned children) of ``pid``, not the resource tracker."""
    out = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in cmd and b"resource_tracker" not in cmd:
            out.append(int(child))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_killed_worker_and_terminated_parent(tmp_path: Path, talking_head: Path, no_face_video: Path) -> None:
    clips = []
    for i in range(6):
        src = talking_head if i % 2 == 0 else no_face_video
        clips.append(tmp_path / f"c{i}.mp4")
        clips[-1].write_bytes(src.read_bytes())
    out = tmp_path / "v.json"
    cmd = [sys.executable, "-m", "fakescope.cli", "scan", *map(str, clips), "--jobs", "2", "--json", str(out),
           "--no-log", "--quiet"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(_workers_of(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # mid-scan
        victim = _workers_of(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert [r["file"] for r in json.loads(out.read_text())] == [str(c) for c in clips]  # every clip, input order
    assert stdout.count("P(fake)=") == len(clips)

    # SIGTERM to the parent: it stops, keeps what it finished, and leaves no worker behind
    out2 = tmp_path / "v2.json"
    proc = subprocess.Popen([*cmd[:-4], "--json", str(out2), "--no-log", "--quiet"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not _workers_of(proc.pid) and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(2)
        workers = _workers_of(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143
    time.sleep(2)
    assert workers and not any(_alive(w) for w in workers)

    # SIGKILL to the parent (no handler can run): the kernel takes its workers down with it
    proc = subprocess.Popen([*cmd[:-4], "--json", str(tmp_path / "v3.json"), "--no-log", "--quiet"], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not _workers_of(proc.pid) and proc.poll() is None:
            time.sleep(0.2)
        workers = _workers_of(proc.pid)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(2)
    assert workers and not any(_alive(w) for w in workers)
