"""Quality and speed of each `testset build` fake method on clips of different people.

    python benchmarks/testset_methods.py [--data ../shared/data] [--frames 24] [--out DIR]
        [--methods self_blend warp reenact animate] [--run RUN_DIR ...] [--speed-only]

Builds a small test set (one segment per clip, one clip per person) with the methods, then
remakes each fake's frames exactly as the build did before perturbation and encoding (same item
seed) and measures them with models the generator does not use to make them:

- face found: frames where dlib's HOG detector still finds a face in the fake, of those with one
  in the input;
- identity: dlib 128-d distance of the fake face to the target's real frames, and to the other
  person involved (the driver for reenact/animate, the decoder's person for swaps); same person
  is < 0.6; "nearer target" is the share of frames nearer the target than the other person;
- expression error: distance of the fake's mouth landmarks (dlib, on the fake) to the mouth the
  method meant to make (the driven landmarks; the input's for the others), over the
  inter-ocular distance; "mouth r" correlates the fake's mouth opening with the driver's;
- sharpness: Laplacian variance inside the face hull, fake over input (1.0: as sharp).

The row "real" measures the real frames the same way: the floor each figure has from dlib alone.
Then reenact and animate are timed per frame on 1280x720 frames (LivePortrait s18.mp4).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from fakescope.core.embedding import face_descriptor
from fakescope.core.faces import align_face, detect_landmarks_image
from generator.blend import laplacian_variance
from generator.clips import stable_rng
from generator.reenact import fill_gaps, mouth_opening
from generator.testset import (
    MethodBank,
    MethodUnavailable,
    TestsetConfig,
    assign_splits,
    build_testset,
    collect_drivers,
    identity_of,
    read_segments,
)

CLIPS = (  # one clip per person
    "SadTalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4",
    "SadTalker/examples/ref_video/WDA_KatieHill_000.mp4",
    "SadTalker/test/examples/source_image/RD_Radio34_000.mp4",
    "SadTalker/test/examples/source_image/WDA_BobMenendez_000.mp4",
    "SadTalker/test/examples/source_image/WDA_EdMarkey0_000.mp4",
    "mead/M030_front_surprised_level3_001.mp4",
    "mead/W009_front_happy_level3_001.mp4",
    "styletalk/source_video/KristiNoem.mp4",
)
SPEED_CLIP = "LivePortrait/assets/examples/source/s18.mp4"


def detect(frame: np.ndarray) -> np.ndarray | None:
    found = detect_landmarks_image(frame, upsample=1 if min(frame.shape[:2]) < 400 else 0)
    return found[0] if found else None


def hull_sharpness(frame: np.ndarray, lm: np.ndarray) -> float:
    a = align_face(frame, lm, 128)
    return laplacian_variance(a.image, a.mask > 0.5)


def reference(seg, every: int = 4) -> np.ndarray:  # noqa: ANN001 - a Segment
    embs = [face_descriptor(f, lm) for f, lm in list(zip(seg.frames, seg.landmarks, strict=True))[::every] if lm is not None]
    return np.mean(embs, axis=0)


def measure(seg, clip, refs: dict[str, np.ndarray], other: str | None,  # noqa: ANN001
            driver_open: np.ndarray | None, every: int) -> dict[str, list[float]]:
    m: dict[str, list[float]] = defaultdict(list)
    out_open, drv_open = [], []
    for i in range(0, len(clip.frames), every):
        lm_in, planned = clip.input_landmarks[i], clip.landmarks[i]
        if lm_in is None or planned is None:
            continue
        m["inputs"].append(1)
        seen = detect(clip.frames[i])
        if seen is None:
            continue
        m["found"].append(1)
        e = face_descriptor(clip.frames[i], seen)
        d_t = float(np.linalg.norm(e - refs[seg.identity]))
        m["d_target"].append(d_t)
        if other is not None:
            d_o = float(np.linalg.norm(e - refs[other]))
            m["d_other"].append(d_o)
            m["nearer"].append(float(d_t < d_o))
        iod = float(np.linalg.norm(planned[36] - planned[45])) + 1e-6
        m["expr"].append(float(np.linalg.norm(seen[48:68] - planned[48:68], axis=1).mean() / iod))
        base = hull_sharpness(clip.inputs[i], lm_in)
        if base > 0:
            m["sharp"].append(hull_sharpness(clip.frames[i], planned) / base)
        if driver_open is not None:
            out_open.append(mouth_opening(seen))
            drv_open.append(driver_open[i])
    if len(out_open) > 3 and np.std(out_open) > 0 and np.std(drv_open) > 0:
        m["mouth_r"].append(float(np.corrcoef(out_open, drv_open)[0, 1]))
    return m


def quality(args: argparse.Namespace, videos: list[Path]) -> None:
    cfg = TestsetConfig(seed=args.seed, clip_frames=args.frames, segments_per_video=1, methods=tuple(args.methods),
                        runs=tuple(args.run))
    out = args.out / "testset"
    t0 = time.perf_counter()
    build_testset(videos, out, cfg, progress=False)
    print(f"built {out} in {time.perf_counter() - t0:.0f} s; contact sheet {out / 'contact_sheet.png'}")
    splits = assign_splits([identity_of(v) for v in videos], cfg.seed, cfg.split_fractions)
    bank = MethodBank(cfg, collect_drivers(videos, splits, cfg))
    methods = bank.available()
    segments = [seg for v in videos for seg in read_segments(v, cfg)]
    refs = {seg.identity: reference(seg) for seg in segments}
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    items: dict[str, int] = defaultdict(int)
    for seg in segments:
        for method in ["real", *methods]:
            item_id = f"{seg.identity}_s{seg.index}_{method}"
            rng = stable_rng(cfg.seed, item_id)
            try:
                params = bank.item_params(method, seg, rng) if method != "real" else {}
                clip = bank.make_clip(method, seg, params)
            except MethodUnavailable as exc:
                print(f"  {item_id}: unavailable ({exc})")
                continue
            other, drv_open = None, None
            if "driver" in params:
                other = params["driver"]["identity"]
                drv_open = np.array([mouth_opening(lm) for lm in bank.driver_track(params)])
            elif method in ("ae_swap", "ae_gan_swap"):
                own = bank.decoder_identities(bank._engine(method))
                other = own.get(params["to"]) if own.get(params["to"]) in refs else None
            got = measure(seg, clip, refs, other, drv_open, args.every)
            items[method] += 1
            for k, v in got.items():
                rows[method][k].extend(v)

    def mean(v: list[float], fmt: str = ".3f") -> str:
        return format(float(np.mean(v)), fmt) if v else "-"

    print(f"\n{len(segments)} clips of different people, {args.frames} frames each, every {args.every}th frame measured")
    print("| method | items | face found | d(target) | d(driver/swap) | nearer target | expr. error | mouth r | sharpness |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method in ["real", *methods]:
        r = rows[method]
        found = f"{len(r['found'])}/{len(r['inputs'])}"
        print(f"| {method} | {items[method]} | {found} | {mean(r['d_target'])} | {mean(r['d_other'])} | "
              f"{mean(r['nearer'], '.0%')} | {mean(r['expr'])} | {mean(r['mouth_r'], '.2f')} | {mean(r['sharp'], '.2f')} |")


def speed(args: argparse.Namespace) -> None:
    from generator.animate import animate_clip
    from generator.reenact import reenact_clip

    clip = args.data / "videos" / SPEED_CLIP
    cfg = TestsetConfig(clip_frames=args.frames, segments_per_video=2, max_side=1280)
    segs = list(read_segments(clip, cfg))
    if len(segs) < 2:
        print(f"speed: {clip.name} gave {len(segs)} usable segments; need 2", file=sys.stderr)
        return
    target, driver = segs
    h, w = target.frames[0].shape[:2]
    drv = fill_gaps(driver.landmarks)
    print(f"\nper-frame time at {w}x{h} ({clip.name}, {len(target.frames)} frames, face "
          f"{int(np.ptp(fill_gaps(target.landmarks)[0][:, 0]))} px wide):")
    base = {"smoothing": {"kind": "ema", "alpha": 0.7}, "gain": 1.0, "mouth_fill": "shade", "colour": "reinhard",
            "mask": "hull", "erode": 0.0, "feather": 0.04}
    for warp in ("pwa", "tps"):
        for blend in ("alpha", "poisson"):
            t0 = time.perf_counter()
            reenact_clip(target.frames, target.landmarks, drv, {**base, "warp": warp, "blend": blend})
            dt = (time.perf_counter() - t0) / len(target.frames) * 1000
            print(f"  reenact  warp={warp} blend={blend:8s} {dt:6.1f} ms/frame")
    k = next(i for i, lm in enumerate(target.landmarks) if lm is not None)
    for warp in ("pwa", "tps"):
        t0 = time.perf_counter()
        animate_clip(target.frames[k], target.landmarks[k], drv, {**base, "warp": warp})
        dt = (time.perf_counter() - t0) / len(drv) * 1000
        print(f"  animate  warp={warp}                {dt:6.1f} ms/frame")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--frames", type=int, default=24, help="frames per item")
    ap.add_argument("--every", type=int, default=2, help="measure every n-th frame")
    ap.add_argument("--methods", nargs="+", default=["self_blend", "warp", "reenact", "animate"])
    ap.add_argument("--run", action="append", default=[], help="generator run for ae_swap/ae_gan_swap/ae_recon")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "fakescope_bench" / "testset_methods")
    ap.add_argument("--speed-only", action="store_true")
    args = ap.parse_args()
    videos = [args.data / "videos" / c for c in CLIPS]
    missing = [v for v in [*videos, args.data / "videos" / SPEED_CLIP] if not v.exists()]
    if missing:
        print(f"testset_methods: {missing[0]} is missing; this benchmark needs ../shared/data/videos", file=sys.stderr)
        sys.exit(2)
    if not args.speed_only:
        quality(args, videos)
    speed(args)


if __name__ == "__main__":
    main()
