"""Animated still photos as extra training items: does animation from photos help transfer?

    python benchmarks/animate_photos.py --testset ts6 --photos photos10k --n 2500 --keep 250 --out animph250

Each chosen photo (a `testset photos` store's source images; LFW and the studio set by default,
whose photos show a whole head) gives two train-split items in test-set layout: the still's aligned
crop (real) and up to ``--frames`` frames of it moved by a driver (fake, method ``animate``, made
by generator.animate from the landmark track of a train-split real video of ``--testset``). Both
are JPEG re-encoded at the same random quality, so the pair differs only by the animation.

Only frames the warp made alone are kept: where the driver opens the mouth wider than the still's,
generator.animate shades the gap, and on photos that is a black mouth no real animator leaves.
Give the output directory to `fakescope detector train --data` beside the test set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fakescope.core.faces import detect_landmarks_image
from fakescope.core.manifest import read_manifest, write_manifest
from generator.animate import animate_clip, sample_animate_params
from generator.clips import stored_crop
from generator.reenact import fill_gaps, needs_mouth_fill
from generator.testset import TestsetConfig, read_segments


def driver_tracks(testset: Path, frames: int) -> list[np.ndarray]:
    """Landmark tracks (gaps filled) of one segment of each train-split real video of ``testset``."""
    sources = sorted({r["source"] for r in read_manifest(testset) if r["label"] == "real" and r["split"] == "train"
                      and r["method"] != "photo"})
    cfg = TestsetConfig(clip_frames=frames, segments_per_video=1, max_side=1280)
    tracks = []
    for src in tqdm(sources, desc="driver tracks"):
        for seg in read_segments(Path(src), cfg):
            if sum(lm is not None for lm in seg.landmarks) >= 0.8 * frames:
                tracks.append(fill_gaps(seg.landmarks))
    if not tracks:
        raise SystemExit(f"{testset}: no train-split real video gave a face track of {frames} frames")
    return tracks


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testset", type=Path, required=True, help="test set whose train-split videos drive")
    ap.add_argument("--photos", type=Path, required=True, help="a `fakescope testset photos` output directory")
    ap.add_argument("--sources", nargs="+", default=["/lfw/", "/face_research_lab/"],
                    help="use photos whose source path contains one of these")
    ap.add_argument("--n", type=int, default=250, help="photos drawn (at random, without replacement)")
    ap.add_argument("--keep", type=int, default=None,
                    help="stop after this many animated photos; the draw of --n stays the same, so "
                         "--n 2500 --keep 250 is the first 250 of --n 2500")
    ap.add_argument("--frames", type=int, default=8, help="animated frames kept per photo (at most)")
    ap.add_argument("--seed", type=int, default=33)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    window = 3 * args.frames
    drivers = driver_tracks(args.testset, 2 * window)
    photos = [r for r in read_manifest(args.photos) if any(s in r["source"] for s in args.sources)]
    pick = rng.choice(len(photos), size=min(args.n, len(photos)), replace=False)
    (args.out / "crops").mkdir(parents=True, exist_ok=True)
    rows, skipped = [], 0
    for k in tqdm(pick, desc="animate"):
        if args.keep is not None and len(rows) // 2 >= args.keep:
            break
        r = photos[int(k)]
        img = cv2.imread(r["source"], cv2.IMREAD_COLOR)
        found = detect_landmarks_image(img, upsample=1 if max(img.shape[:2]) < 400 else 0) if img is not None else []
        if not found:
            skipped += 1
            continue
        lm = np.asarray(found[0], np.float64)
        drv = drivers[int(rng.integers(len(drivers)))]
        s = int(rng.integers(0, len(drv) - window))
        params = sample_animate_params(rng)
        frames, lms = animate_clip(img, lm, drv[s:s + window], params)
        quality = int(rng.integers(70, 96))
        take = [j for j in range(window // 6, window) if not needs_mouth_fill(lm, lms[j])][-args.frames:]
        if len(take) < max(2, args.frames // 2):
            skipped += 1
            continue
        size = TestsetConfig().crop_size
        items = {"real": [stored_crop(_jpeg(img, quality), lm, size)],
                 "fake": [stored_crop(_jpeg(frames[j], quality), lms[j], size) for j in take]}
        name = r["identity"]
        for label, crops in items.items():
            fn = f"{name}_{label}.npz"
            np.savez_compressed(args.out / "crops" / fn, images=np.asarray([c[0] for c in crops], np.uint8),
                                masks=np.asarray([c[1] for c in crops], np.uint8), frames=np.arange(len(crops)))
            rows.append({"path": "", "label": label, "source": r["source"], "identity": f"animph_{name}",
                         "method": "animate" if label == "fake" else "",
                         "params": json.dumps(params | {"photo": True, "jpeg": quality}), "seed": args.seed,
                         "split": "train", "sha256": r["sha256"], "crops": f"crops/{fn}", "source_start_frame": 0,
                         "frames": len(crops)})
    write_manifest(args.out, rows)
    print(f"{len(rows) // 2} photos animated ({skipped} skipped: no face, or the driver opened the mouth in too many "
          f"frames); {len(drivers)} driver tracks; {args.out / 'manifest.csv'}")


if __name__ == "__main__":
    main()
