"""Render speed of ``render_swap`` on a 512x512 talking-head clip from ../shared/data.

Render speed does not depend on how well the model is trained, so unless ``--run`` names a
trained run, a model of the preset is initialised (2 training steps on synthetic faces) in a
temporary directory. Prints end-to-end frames/s (decode, face pipeline, swap, blend, OpenCV
write, ffmpeg H.264 re-encode with audio) and the face-pipeline-only rate for comparison.

    .venv/bin/python benchmarks/generator_render.py [--preset quick] [--clip PATH] [--run RUN_DIR --to NAME]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from fakescope.core.faces import FacePipeline
from generator.models import get_preset
from generator.render import RenderOptions, render_swap
from generator.synthetic import synthetic_faceset
from generator.train import train_facesets
from generator.trainer import TrainOptions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_CLIP = DATA / "videos" / "SadTalker" / "examples" / "ref_video" / "WDA_AlexandriaOcasioCortez_000.mp4"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--run", type=Path, help="a trained run directory (default: an untrained model)")
    ap.add_argument("--to", default="b", help="identity to render as (with --run)")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    if not args.clip.exists():
        raise SystemExit(f"{args.clip} not found; pass --clip PATH to a 512x512 video")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            p = get_preset(args.preset)
            run = Path(tmp) / "run"
            fs = {"a": synthetic_faceset("a", 16, p.size, seed=1), "b": synthetic_faceset("b", 16, p.size, seed=2)}
            train_facesets(fs, run, p, TrainOptions(gan=False), max_steps=2, progress=False)
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        n = sum(1 for _ in FacePipeline().run(args.clip))
        pipe_fps = n / (time.perf_counter() - t0)
        for label, opts in (("feather (default)", RenderOptions()), ("seamless clone", RenderOptions(blend="seamless"))):
            res = render_swap(run, args.clip, args.to, Path(tmp) / "out.mp4", opts, progress=False)
            print(f"{label:18s}: {res.frames} frames {res.width}x{res.height} in {res.seconds:.2f} s = "
                  f"{res.frames_per_second:.1f} frames/s end to end (codec {res.codec}, audio {res.audio}, "
                  f"{res.frames_swapped} swapped)")
        print(f"face pipeline alone : {pipe_fps:.1f} frames/s; threads={args.threads}; load avg before {load:.2f}")


if __name__ == "__main__":
    main()
