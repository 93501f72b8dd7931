"""A 30-clip `fakescope scan --jobs 2` batch under faults: one worker killed mid-run, then the
parent terminated (SIGTERM) and killed (SIGKILL). Prints what was kept and whether workers survived.

    python benchmarks/batch_faults.py [--data ../shared/data/videos] [--clips 30]

Linux only (reads /proc to find the scan's worker processes).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def workers_of(pid: int) -> list[int]:
    out = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmd and b"resource_tracker" not in cmd:
            out.append(int(child))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=HERE.parent / "shared" / "data" / "videos")
    ap.add_argument("--clips", type=int, default=30)
    args = ap.parse_args()
    clips = sorted(p for p in args.data.rglob("*.mp4") if p.stat().st_size < 2_000_000)[: args.clips]
    if len(clips) < args.clips:
        raise SystemExit(f"found {len(clips)} clips under 2 MB in {args.data}, need {args.clips}")
    tmp = Path(tempfile.mkdtemp(prefix="fs-faults-"))
    base = [sys.executable, "-m", "fakescope.cli", "scan", *map(str, clips), "--jobs", "2", "--no-log", "--quiet"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    # 1. one worker killed mid-run
    out = tmp / "killed.json"
    t0 = time.perf_counter()
    proc = subprocess.Popen([*base, "--json", str(out)], cwd=HERE, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    while len(workers_of(proc.pid)) < 2 and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(20)
    victims = workers_of(proc.pid)[:1]
    for v in victims:
        os.kill(v, signal.SIGKILL)
    stdout, stderr = proc.communicate()
    records = json.loads(out.read_text()) if out.exists() else []
    print(f"worker {victims} killed at 20 s: exit {proc.returncode} after {time.perf_counter() - t0:.0f} s; "
          f"{len(records)}/{len(clips)} clips in the JSON, input order {[r['file'] for r in records] == list(map(str, clips))}; "
          f"{stdout.count('P(fake)=')} verdict lines, {stderr.count('fakescope: error')} error lines")
    for line in stderr.splitlines():
        print("   stderr:", line)

    # 2. SIGTERM, then 3. SIGKILL to the parent
    for sig in (signal.SIGTERM, signal.SIGKILL):
        out = tmp / f"{sig.name}.json"
        proc = subprocess.Popen([*base, "--json", str(out)], cwd=HERE, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        while len(workers_of(proc.pid)) < 2 and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(15)
        workers = workers_of(proc.pid)
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        time.sleep(2)
        kept = len(json.loads(out.read_text())) if out.exists() else 0
        print(f"{sig.name} to the parent at 15 s: exit {proc.returncode}; {kept} finished verdicts kept in the JSON; "
              f"workers {workers} alive 2 s later: {[w for w in workers if alive(w)]}")


if __name__ == "__main__":
    main()
