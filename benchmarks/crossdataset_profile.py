"""Do a video set's real and fake items differ in ways that have nothing to do with faking?

    python benchmarks/crossdataset_profile.py [--data ../shared/data/crossdataset/talking_heads/manifest.csv]
        [--testset TESTSET_DIR [--per-method N]]

A cross-dataset set is a measuring stick only if its real and fake videos were made alike apart
from the fake. When the fakes were re-encoded at a high bit rate and the reals are low-bit-rate
crops, or the reals are emotional studio clips and the fakes calm monologues, any score that reads
quality or motion ranks them, in whichever direction, and a detector's AUC there measures that too.

Per video: bit rate (file size over duration), frame size, median inter-ocular distance of the
largest face in pixels, median fine detail of that face (Laplacian variance inside its hull at
128 px, every 5th frame) and the temporal analyzer's landmark jitter (non-rigid acceleration of the
mouth/jaw and of the other landmarks, in inter-ocular distances per frame squared; see
forensics.temporal). Printed per property: the median of each class and the AUC of "a higher value
means fake" with a bootstrap 95% interval (0.5: the property does not tell the classes apart; near
0 or 1: it alone ranks them). With ``--testset``, the same for the reals and each fake method of
that set's test split (``--per-method`` videos each), for comparison with our own fakes.

With ``--reencode DIR`` every video of ``--data`` is also written to DIR scaled to ``--size`` px
square and encoded alike (H.264 ``--crf``, no audio), with a manifest beside it, and profiled
again: `fakescope audit --data DIR/manifest.csv` then scores the same videos with the encoding
difference between the classes removed (what the sources themselves differ in stays).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np

from fakescope.core.faces import FacePipeline
from fakescope.core.manifest import read_manifest
from fakescope.core.metrics import bootstrap_ci, roc_auc
from fakescope.core.video import probe
from forensics.train_temporal import video_features
from generator.evaluate import face_detail

PROPERTIES = ("bitrate_kbps", "frame_px", "face_iod_px", "face_detail", "jitter_mouth", "jitter_rest")
DETAIL_EVERY = 5


def video_profile(path: Path) -> dict[str, float] | None:
    """The properties above for one video (None: no face in it)."""
    info = probe(path)
    iod, detail = [], []
    for index, _ts, frame, faces in FacePipeline().run(path, info):
        if not faces:
            continue
        lm = max(faces, key=lambda f: f.size).landmarks
        iod.append(float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0))))
        if index % DETAIL_EVERY == 0:
            detail.append(face_detail(frame, lm))
    temporal = video_features(path)
    if not iod or not detail or temporal is None:
        return None
    return {
        "bitrate_kbps": path.stat().st_size * 8 / max(info.duration_s, 1e-6) / 1000,
        "frame_px": float(info.width * info.height),
        "face_iod_px": float(np.median(iod)),
        "face_detail": float(np.median(detail)),
        "jitter_mouth": float(temporal["jitter_mouth"]),
        "jitter_rest": float(temporal["jitter_rest"]),
    }


def _profiles(items: list[tuple[Path, str]]) -> dict[str, list[dict[str, float]]]:
    from tqdm import tqdm

    out: dict[str, list[dict[str, float]]] = defaultdict(list)
    for path, group in tqdm(items, desc="profile", unit="video"):
        p = video_profile(path)
        if p is not None:
            out[group].append(p)
    return out


def _table(groups: dict[str, list[dict[str, float]]], real: str = "real") -> None:
    fakes = [g for g in groups if g != real]
    head = " | ".join(f"{g} median | {g} AUC (95% CI)" for g in fakes)
    print(f"\n| property | {real} median ({len(groups[real])}) | {head} |")
    print("|---|---|" + "---|---|" * len(fakes))
    for prop in PROPERTIES:
        r = np.array([p[prop] for p in groups[real]])
        cells = [f"{np.median(r):.4g}"]
        for g in fakes:
            f = np.array([p[prop] for p in groups[g]])
            y, s = np.r_[np.zeros(len(r)), np.ones(len(f))], np.r_[r, f]
            ci = bootstrap_ci(roc_auc, y, s)
            cells.append(f"{np.median(f):.4g} | {roc_auc(y, s):.3f} ({ci.low:.3f}-{ci.high:.3f})")
        print(f"| {prop} | " + " | ".join(cells) + " |")


def reencode(items: list[tuple[Path, str]], out: Path, size: int, crf: int) -> list[tuple[Path, str]]:
    """Each video scaled to ``size`` x ``size`` and encoded at ``crf`` into ``out``, with a manifest."""
    if shutil.which("ffmpeg") is None:
        raise SystemExit("--reencode needs ffmpeg on the PATH")
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for i, (src, label) in enumerate(items):
        dst = out / f"{i:03d}_{label}.mp4"
        if not dst.is_file():
            tmp = dst.with_suffix(".part.mp4")
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-an", "-vf", f"scale={size}:{size}",
                            "-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p", str(tmp)], check=True)
            tmp.replace(dst)
        done.append((dst, label))
    with (out / "manifest.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "source"])
        w.writerows([d.name, label, str(src)] for (d, label), (src, _) in zip(done, items, strict=True))
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/crossdataset/talking_heads/manifest.csv"),
                    help="a video manifest with path and label columns (paths relative to it)")
    ap.add_argument("--testset", type=Path, default=None, help="also profile this test set's test split")
    ap.add_argument("--per-method", type=int, default=20, help="with --testset: videos per method (and reals)")
    ap.add_argument("--reencode", type=Path, default=None, metavar="DIR",
                    help="also write every --data video re-encoded alike into DIR (with a manifest) and profile that")
    ap.add_argument("--size", type=int, default=256, help="with --reencode: square frame size in px")
    ap.add_argument("--crf", type=int, default=28, help="with --reencode: H.264 CRF")
    args = ap.parse_args()

    base = args.data.resolve().parent
    items = [(base / row["path"], "fake" if row["label"] == "fake" else "real") for row in read_manifest(args.data)]
    print(f"{args.data}: {sum(g == 'real' for _, g in items)} real, {sum(g == 'fake' for _, g in items)} fake videos")
    _table(_profiles(items))
    if args.reencode is not None:
        print(f"\nre-encoded alike ({args.size}x{args.size}, CRF {args.crf}) into {args.reencode}")
        _table(_profiles(reencode(items, args.reencode, args.size, args.crf)))

    if args.testset is not None:
        rows = read_manifest(args.testset, require=("path", "label", "method", "split"))
        chosen: dict[str, list[Path]] = defaultdict(list)
        for row in rows:
            group = (row["method"] or "fake") if row["label"] == "fake" else "real"
            if row["split"] == "test" and len(chosen[group]) < args.per_method:
                chosen[group].append(args.testset / row["path"])
        print(f"\n{args.testset} test split, up to {args.per_method} videos per group")
        _table(_profiles([(p, g) for g, paths in chosen.items() for p in paths]))


if __name__ == "__main__":
    main()
