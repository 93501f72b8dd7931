"""Whole-command wall time and peak memory of `fakescope scan`, short input vs a much longer one.

    python benchmarks/scan_memory.py [--clip 720P_CLIP] [--repeat 10]

The long input is the short clip concatenated ``--repeat`` times (ffmpeg stream loop, no
re-encode), so any growth of peak memory with length would show directly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_RUNNER = """
import json, os, resource, sys, time
t0 = time.perf_counter()
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if sys.argv[3] == "naive":
    from fakescope.core.atomicio import write_json_atomic
    from fakescope.scan.pipeline import naive_config, scan_video
    write_json_atomic(sys.argv[2], scan_video(sys.argv[1], naive_config()).record)
    code = 0
else:
    from fakescope.cli import main
    code = main(["scan", sys.argv[1], "--json", sys.argv[2], "--quiet", "--no-log"])
print(json.dumps({"code": code, "seconds": time.perf_counter() - t0,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(video: Path, mode: str = "ours") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "v.json"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _RUNNER, str(video), str(out), mode],
                              capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        rec = json.loads(out.read_text())
    return {"wall_s": wall, **stats, "frames": rec["video"]["frames"], "duration_s": rec["video"]["duration_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--clip", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--skip-naive", action="store_true", help="the naive run takes minutes")
    args = ap.parse_args()
    clip = args.clip or args.data / "videos/LivePortrait/assets/examples/source/s18.mp4"
    if not shutil.which("ffmpeg"):
        sys.exit("ffmpeg is needed to build the long input")
    with tempfile.TemporaryDirectory() as tmp:
        long = Path(tmp) / "long.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", str(args.repeat - 1), "-i", str(clip),
                        "-c", "copy", str(long)], check=True)
        runs = [("ours", clip, "ours"), ("naive", clip, "naive"), (f"ours {args.repeat}x long", long, "ours")]
        results = {}
        for name, video, mode in runs:
            if mode == "naive" and args.skip_naive:
                continue
            m = results[name] = measure(video, mode)
            print(f"{name:14s} {m['frames']:6d} frames {m['duration_s']:7.1f} s video: wall {m['wall_s']:6.1f} s "
                  f"({m['duration_s'] / m['wall_s']:.2f}x real time), peak RSS {m['max_rss_mb']:.0f} MB", flush=True)
        if "naive" in results:
            print(f"naive / ours wall time: {results['naive']['wall_s'] / results['ours']['wall_s']:.1f}x")


if __name__ == "__main__":
    main()
