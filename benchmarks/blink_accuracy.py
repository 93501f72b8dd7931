"""Blink event precision / recall / F1 against hand-labelled clips of ../shared/data.

Annotations (benchmarks/blink_annotations.csv) were made by looking at frame strips of the eye
region, not from any detector output. Columns: video (relative to the data dir), start_frame,
end_frame (inclusive, 0-based decoded frames), kind:
  blink    - both eyes close and reopen (the events we score);
  wink / closure / flutter - deliberate one-eyed closures, closures longer than 0.8 s, rapid
             partial lid flutter: ambiguous for a blink counter, so detections overlapping them are
             neither hits nor false alarms;
  none     - the clip was checked and has no blink (start/end empty).
A detection matches a labelled blink when their frame ranges overlap (one-to-one, greedy by
overlap length).

Usage: python benchmarks/blink_accuracy.py [--data ../shared/data] [--cache DIR] [--verbose]
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from fakescope.core.faces import FacePipeline
from fakescope.core.video import probe
from forensics.blink import BlinkConfig, BlinkEvent, detect_blinks, frame_ear

HERE = Path(__file__).resolve().parent


def load_annotations(path: Path) -> dict[str, list[tuple[int, int, str]]]:
    out: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            video = row["video"]
            out.setdefault(video, [])
            if row["kind"] != "none":
                out[video].append((int(row["start_frame"]), int(row["end_frame"]), row["kind"]))
    return out


def video_landmarks(video: Path, cache: Path | None) -> tuple[np.ndarray, float]:
    """Per-frame 68 landmarks of the largest track (NaN where no face), as the scan would see them."""
    if cache is not None:
        f = cache / (video.stem + ".npz")
        if f.exists():
            d = np.load(f)
            return d["lm"], float(d["fps"])
    info = probe(video)
    per_track: dict[int, dict[int, np.ndarray]] = defaultdict(dict)
    n = 0
    for idx, _ts, _frame, faces in FacePipeline().run(video, info):
        n = idx + 1
        for face in faces:
            per_track[face.track_id][idx] = face.landmarks
    lm = np.full((n, 68, 2), np.nan, np.float32)
    if per_track:
        main = max(per_track, key=lambda t: len(per_track[t]))
        for idx, pts in per_track[main].items():
            lm[idx] = pts
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(cache / (video.stem + ".npz"), lm=lm, fps=info.fps)
    return lm, float(info.fps)


def detect(lm: np.ndarray, fps: float, config: BlinkConfig) -> list[BlinkEvent]:
    res = [frame_ear(p, config) for p in lm]
    ear = np.array([r[0] for r in res])
    valid = np.array([r[1] for r in res])
    return detect_blinks(ear, valid, fps, config)


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)


def match(pred: list[tuple[int, int]], truth: list[tuple[int, int, str]]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) for one video."""
    blinks = [(s, e) for s, e, k in truth if k == "blink"]
    ignore = [(s, e) for s, e, k in truth if k != "blink"]
    pairs = sorted(((overlap(p, t), i, j) for i, p in enumerate(pred) for j, t in enumerate(blinks) if overlap(p, t) > 0), reverse=True)
    used_p: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    fp = sum(1 for i, p in enumerate(pred) if i not in used_p and not any(overlap(p, g) for g in ignore))
    return len(used_p), fp, len(blinks) - len(used_t)


def evaluate(data: Path, annotations: Path, config: BlinkConfig, cache: Path | None, verbose: bool) -> dict[str, float]:
    ann = load_annotations(annotations)
    tp = fp = fn = 0
    for video, truth in ann.items():
        lm, fps = video_landmarks(data / video, cache)
        pred = [(e.start_frame, e.end_frame) for e in detect(lm, fps, config)]
        a, b, c = match(pred, truth)
        tp, fp, fn = tp + a, fp + b, fn + c
        if verbose:
            print(f"{Path(video).name:36s} tp={a:2d} fp={b:2d} fn={c:2d}  pred={pred}")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"videos": len(ann), "blinks": tp + fn, "tp": tp, "fp": fp, "fn": fn,
            "precision": precision, "recall": recall, "f1": f1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--annotations", type=Path, default=HERE / "blink_annotations.csv")
    ap.add_argument("--cache", type=Path, default=None, help="keep per-video landmarks here between runs")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    r = evaluate(args.data, args.annotations, BlinkConfig(), args.cache, args.verbose)
    print(f"blink events: {r['videos']} videos, {r['blinks']} labelled blinks; "
          f"TP={r['tp']} FP={r['fp']} FN={r['fn']}  precision={r['precision']:.3f} "
          f"recall={r['recall']:.3f} F1={r['f1']:.3f}  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
