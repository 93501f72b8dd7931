"""Face pipeline speed (ours vs naive) and face coverage on the shared talking-head clips.

    python benchmarks/face_pipeline.py [--data ../shared/data] [--clip PATH_TO_720P]

Ours: the default pipeline (fakescope.core.faces.PipelineConfig: MTCNN at full resolution, sparse,
landmark tracking in between, 68 landmarks on every frame at full resolution; until issue 24 it was
HOG on a frame downscaled to 480 px). Naive: full-resolution HOG detection with upsample 1 on every
frame, then landmarks. Small faces and phone footage: benchmarks/faces_in_the_wild.py.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import cv2

from fakescope.core.faces import FacePipeline, _hog_detector, _shape_predictor
from fakescope.core.video import iter_frames, probe


def run_ours(path: Path, limit: int | None = None) -> tuple[int, int, float]:
    t0 = time.perf_counter()
    n = found = 0
    for _, _, _, faces in FacePipeline().run(path):
        n += 1
        found += bool(faces)
        if limit and n >= limit:
            break
    return n, found, time.perf_counter() - t0


def run_naive(path: Path, limit: int | None = None) -> tuple[int, int, float]:
    import dlib

    det, pred = _hog_detector(), _shape_predictor()
    t0 = time.perf_counter()
    n = found = 0
    for _, _, frame in iter_frames(path):
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        rects = det(gray, 1)
        for r in rects:
            pred(gray, dlib.rectangle(r.left(), r.top(), r.right(), r.bottom()))
        n += 1
        found += bool(len(rects))
        if limit and n >= limit:
            break
    return n, found, time.perf_counter() - t0


def talking_heads(data: Path) -> list[Path]:
    rows = csv.DictReader((data / "MANIFEST.tsv").open(), delimiter="\t")
    keep = []
    for r in rows:
        note = r["people/notes"].lower()
        if r["kind"] == "video" and ("talking" in note or "frontal" in note or "man" in note) and "full body" not in note \
                and "stage" not in note and int(r["frames"] or 0) > 30:
            keep.append(data / r["local_path"])
    return keep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--clip", type=Path, default=None, help="720p clip (default: LivePortrait s18.mp4)")
    ap.add_argument("--naive-frames", type=int, default=90, help="frames for the slow naive run")
    args = ap.parse_args()
    clip = args.clip or args.data / "videos/LivePortrait/assets/examples/source/s18.mp4"
    info = probe(clip)
    _hog_detector(), _shape_predictor()  # load models outside the timed region
    n, found, dt = run_ours(clip)
    nn_, found_n, dt_n = run_naive(clip, args.naive_frames)
    print(f"clip: {clip.name} {info.width}x{info.height} {info.frames} frames")
    print(f"ours : {n / dt:7.1f} frames/s  ({n} frames, face on {found / n:.1%})")
    print(f"naive: {nn_ / dt_n:7.1f} frames/s  ({nn_} frames, face on {found_n / nn_:.1%})")
    print(f"speed-up: {(n / dt) / (nn_ / dt_n):.1f}x")

    print("\ncoverage on shared talking-head clips (ours):")
    tot = tot_found = 0
    for p in talking_heads(args.data):
        n, found, dt = run_ours(p)
        tot += n
        tot_found += found
        print(f"  {p.name:45s} {found:5d}/{n:<5d} {found / max(n, 1):6.1%} {n / dt:6.1f} f/s")
    print(f"overall face coverage: {tot_found}/{tot} = {tot_found / max(tot, 1):.2%}")


if __name__ == "__main__":
    main()
