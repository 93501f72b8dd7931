"""Throughput of `fakescope scan --ray` (local Ray, N workers) vs `--jobs N` on the same directory.

    python benchmarks/ray_scan.py [--data ../shared/data/videos] [--workers 2]

The directory holds symlinks to the LivePortrait driving clips d3, d5-d9 and the two SadTalker
reference videos (8 real talking heads). Each mode runs as its own whole command, so the figures
include everything a user waits for: Python and model start-up, Ray start-up for --ray, the scans.
Both must give the same verdicts. The load average is printed before and after, since the CPU
may be shared with other work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIPS = (
    "LivePortrait/assets/examples/driving/d3.mp4",
    "LivePortrait/assets/examples/driving/d5.mp4",
    "LivePortrait/assets/examples/driving/d6.mp4",
    "LivePortrait/assets/examples/driving/d7.mp4",
    "LivePortrait/assets/examples/driving/d8.mp4",
    "LivePortrait/assets/examples/driving/d9.mp4",
    "SadTalker/examples/ref_video/WDA_KatieHill_000.mp4",
    "SadTalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4",
)


def run(mode_args: list[str], folder: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "fakescope.cli", "scan", str(folder), "--quiet", "--no-log", "--json", str(out),
           *mode_args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr}")
    records = json.loads(out.read_text())
    frames = sum(r["video"]["frames"] for r in records)
    return {"wall_s": wall, "videos": len(records), "frames": frames,
            "verdicts": {Path(r["file"]).name: r["verdict"] for r in records}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"
    ap.add_argument("--data", type=Path, default=default_data, help="the shared videos folder")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    missing = [c for c in CLIPS if not (args.data / c).is_file()]
    if missing:
        raise SystemExit(f"missing clips under {args.data}: {missing}")
    print(f"load average before: {os.getloadavg()}  ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        for c in CLIPS:
            (folder / Path(c).name).symlink_to((args.data / c).resolve())
        results = {
            f"--jobs {args.workers}": run(["--jobs", str(args.workers)], folder, Path(tmp) / "jobs.json"),
            f"--ray (local, {args.workers} workers)": run(["--ray", "--jobs", str(args.workers)], folder,
                                                          Path(tmp) / "ray.json"),
        }
    print(f"load average after:  {os.getloadavg()}")
    for name, r in results.items():
        print(f"{name:28s} {r['videos']} videos, {r['frames']} frames: {r['wall_s']:.1f} s wall, "
              f"{r['videos'] / r['wall_s']:.3f} videos/s, {r['frames'] / r['wall_s']:.1f} frames/s")
    a, b = results.values()
    same = a["verdicts"] == b["verdicts"]
    print(f"same verdicts: {same}" + ("" if same else f"  {a['verdicts']} vs {b['verdicts']}"))


if __name__ == "__main__":
    main()
