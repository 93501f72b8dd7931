import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakescope.cli import main
from fakescope.scan.caselog import append_case, find_case, integrity_ok, list_cases

RECORD = {"file": "a.mp4", "sha256": "ab" * 32, "verdict": "real", "fake_probability": 0.1,
          "versions": {"fakescope": "0"}}


@pytest.mark.slow
def test_scan_appends_a_case_and_cases_list_shows_it(talking_head: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    db = tmp_path / "cases.db"
    assert main(["scan", str(talking_head), "--db", str(db), "--quiet"]) == 0
    cases = list_cases(db)
    assert len(cases) == 1 and cases[0].file == str(talking_head) and len(cases[0].sha256) == 64
    capsys.readouterr()
    assert main(["cases", "list", "--db", str(db)]) == 0
    assert cases[0].sha256[:12] in capsys.readouterr().out


def test_case_log_survives_a_killed_writer(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    append_case(RECORD, db)
    # A writer that is killed mid-stream of inserts: committed rows stay, the file stays sound.
    code = (
        "import sys\nfrom fakescope.scan.caselog import append_case\n"
        f"rec = {RECORD!r}\n"
        "print('ready', flush=True)\n"
        "while True:\n    append_case(rec, __import__('pathlib').Path(sys.argv[1]))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert integrity_ok(db)
    cases = list_cases(db)
    assert len(cases) >= 2 and all(c.sha256 == RECORD["sha256"] for c in cases)


def test_find_case_matches_content_hash_and_exact_versions(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    assert find_case(RECORD["sha256"], RECORD["versions"], db) is None  # no database yet
    first = append_case(RECORD, db)
    newer = dict(RECORD, versions={"fakescope": "0", "models": {"default": "cd" * 32}}, verdict="fake")
    second = append_case(newer, db)
    assert find_case(RECORD["sha256"], {"fakescope": "0"}, db).id == first
    assert find_case(RECORD["sha256"], newer["versions"], db).id == second
    assert find_case(RECORD["sha256"], {"fakescope": "1"}, db) is None  # another release: scan again
    assert find_case("ef" * 32, {"fakescope": "0"}, db) is None  # other content, whatever the name
