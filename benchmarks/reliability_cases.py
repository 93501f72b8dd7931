"""Before/after table of the reliability cases (issue 28): exit code, what was written, seconds.

    python benchmarks/reliability_cases.py [--repo DIR]   # DIR: a checkout to measure (default: this one)

Runs each case as a user would, in a fresh process with the checkout as the working directory, so
an older commit (a `git worktree`) can be measured with the same script. The fixture clips in
tests/fixtures are the inputs; nothing in ../shared/data is needed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 12 * 1024**3  # address space per case: a config that asks for 40000 px inputs fails, not the machine


def run(repo: Path, argv: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
    t0 = time.perf_counter()
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (MEM, MEM)); "
            "from fakescope.cli import main; sys.exit(main())").replace("MEM", str(MEMORY_LIMIT))
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0


def describe(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if any(ln.startswith("Traceback") for ln in lines):
        last = [ln for ln in lines if not ln.startswith(" ")][-1]
        return f"traceback ({last[:70]})"
    return f"{len(lines)} line(s): {lines[0][:90]}" if lines else "nothing on stderr"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, default=HERE)
    args = ap.parse_args()
    repo = args.repo.resolve()
    fx = HERE / "tests" / "fixtures"
    clips = [fx / "talking_head.mp4", fx / "fake_selfblend.mp4", fx / "unrelated_face.mp4"]
    tmp = Path(tempfile.mkdtemp(prefix="fs-rel-"))
    env = {**os.environ, "FAKESCOPE_CASES_DB": str(tmp / "cases.db"), "FAKESCOPE_REGISTRY": str(tmp / "reg.db"),
           "OMP_WAIT_POLICY": "PASSIVE"}
    (tmp / "notdb.db").write_text("not a database")
    (tmp / "afile").write_text("x")
    (tmp / "adir").mkdir()
    (tmp / "two.csv").write_text(f"path,label\n{clips[0]},real\n{clips[1]},fake\n")
    model = tmp / "model"

    def bad_model(**changes: object) -> str:
        shutil.rmtree(model, ignore_errors=True)
        shutil.copytree(HERE / "detector" / "weights" / "default", model)
        cfg = json.loads((model / "config.json").read_text())
        for k, v in changes.items():
            if k == "temperature":
                cfg["calibration"]["temperature"] = v
            else:
                cfg[k] = v
        (model / "config.json").write_text(json.dumps(cfg))
        return str(model)

    def scan3(*extra: str) -> list[str]:
        return ["scan", *map(str, clips), "--quiet", *extra]

    def json_count(p: Path) -> str:
        if not p.exists():
            return "no JSON"
        data = json.loads(p.read_text())
        n = len(data) if isinstance(data, list) else 1
        p.unlink()
        return f"JSON with {n} verdict(s)"

    out = tmp / "v.json"
    cases: list[tuple[str, list[str], object]] = [
        ("--db is not a database (3 clips)", scan3("--db", str(tmp / "notdb.db"), "--json", str(out)), out),
        ("--db under a regular file (3 clips)", scan3("--db", str(tmp / "afile" / "c.db"), "--json", str(out)), out),
        ("cases list --db not a database", ["cases", "list", "--db", str(tmp / "notdb.db")], None),
        ("--json onto a directory", scan3("--json", str(tmp / "adir"), "--no-log"), None),
        ("--report under a regular file", scan3("--report", str(tmp / "afile" / "r.html"), "--no-log"), None),
        ("audit --out onto a file (2 videos)", ["audit", "--data", str(tmp / "two.csv"), "--out", str(tmp / "afile"),
                                                "--quiet"], None),
        ("testset build --out onto a file", ["testset", "build", "--real", str(fx / "talking_head.mp4"), "--out",
                                             str(tmp / "afile"), "--quiet"], None),
        ("model config: list where the arch name belongs", ["scan", str(clips[0]), "--quiet", "--no-log",
                                                           "--detector", "@arch"], None),
        ("model config: unknown keyword", ["scan", str(clips[0]), "--quiet", "--no-log", "--detector", "@kwargs"], None),
        ("model config: temperature 0", ["scan", str(clips[0]), "--quiet", "--no-log", "--detector", "@temp"], None),
        ("model config: input_size 40000", ["scan", str(clips[0]), "--quiet", "--no-log", "--detector", "@size"], None),
        ("testset build, every input unusable", ["testset", "build", "--real", str(tmp / "afile"), "--out",
                                                 str(tmp / "ts"), "--quiet"], tmp / "ts"),
        ("newline in a file name", ["scan", str(tmp / "two\nlines.mp4"), "--quiet", "--no-log"], None),
    ]
    (tmp / "two\nlines.mp4").write_text("text")
    locked = tmp / "locked.db"
    sqlite3.connect(str(locked)).executescript("CREATE TABLE t(x);")
    print(f"repo: {repo}")
    print("| case | exit | stderr | written | s |")
    print("|---|---|---|---|---|")
    for name, argv, written in cases:
        makers = {"@arch": lambda: bad_model(arch=["meso4_contrast"]), "@kwargs": lambda: bad_model(kwargs={"nope": 1}),
                  "@temp": lambda: bad_model(temperature=0), "@size": lambda: bad_model(input_size=40000)}
        argv = [makers[a]() if a in makers else a for a in argv]
        code, so, se, sec = run(repo, argv, env)
        if isinstance(written, Path) and written.suffix == ".json":
            what = json_count(written)
        elif isinstance(written, Path):
            what = "manifest written" if (written / "manifest.csv").exists() else "no manifest"
        else:
            what = (so.strip().splitlines() or ["-"])[-1][:60]
        print(f"| {name} | {code} | {describe(se)} | {what} | {sec:.1f} |")
    holder = sqlite3.connect(str(locked), timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, so, se, sec = run(repo, scan3("--db", str(locked), "--json", str(out)), env)
    finally:
        holder.rollback()
        holder.close()
    print(f"| --db locked by another writer (3 clips) | {code} | {describe(se)} | {json_count(out)} | {sec:.1f} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
