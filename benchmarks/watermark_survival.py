"""Does fakescope's watermark survive what platforms do to a video, and does it ever fire on a real one?

Fakes: for each chosen real clip of ../shared/data/videos, its first ``--frames`` frames get a
self-blended face (generator.selfblend; frames without a face stay as they are) and are written
the way ``swap render`` writes its output: watermark on every frame (generator.watermark),
OpenCV writer, ffmpeg H.264 CRF 18 with the clip's audio (generator.video_out), then a signed C2PA
manifest (generator.labels). With ``--run RUN_DIR --to NAME`` the fakes are real swaps rendered by
``generator.render.render_swap`` instead. Both write every frame's watermark the same way.

Transforms (ffmpeg, libx264 default preset, audio dropped): re-encode at CRF 23 and at CRF 30;
0.75x resize; a crop keeping the central 90% of width and height (10% cut off); the last two
re-encoded at CRF 23.

Read as ``scan`` reads them (generator.labels.read_file: 32 frames spread over the clip), plus
whether a C2PA manifest is still there and valid after the transform. False detections: the
same detector on every real clip in ../shared/data (videos/ and crossdataset/talking_heads/real)
and on the third-party fakes of crossdataset (not made by fakescope: must not be found either).

    .venv/bin/python benchmarks/watermark_survival.py [--per-folder 4 | --all] [--frames 64]
        [--run RUN_DIR --to NAME] [--no-false-positives]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from fakescope.core.faces import FacePipeline
from fakescope.core.video import probe
from fakescope.provenance.credentials import read_content_credentials
from generator.labels import load_signing_identity, read_file, sign_video
from generator.selfblend import self_blend
from generator.video_out import OpenCVSink, finalize
from generator.watermark import THRESHOLD, WatermarkEmbedder, payload_for

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRANSFORMS = {
    "as written": None,
    "h264 crf 23": (None, 23),
    "h264 crf 30": (None, 30),
    "resize 0.75x": ("scale=trunc(iw*0.75/2)*2:trunc(ih*0.75/2)*2", 23),
    "crop 10%": ("crop=trunc(iw*0.9/2)*2:trunc(ih*0.9/2)*2", 23),
}


def real_clips() -> list[Path]:
    """Every clip ../shared/data/MANIFEST.tsv labels real (videos/ and crossdataset)."""
    rows = list(csv.DictReader((DATA / "MANIFEST.tsv").open(), delimiter="\t"))
    return [DATA / r["local_path"] for r in rows if r["kind"] == "video" and r["label"] == "real"
            and (DATA / r["local_path"]).is_file()]


def other_fakes() -> list[Path]:
    rows = list(csv.DictReader((DATA / "MANIFEST.tsv").open(), delimiter="\t"))
    return [DATA / r["local_path"] for r in rows if r["kind"] == "video" and r["label"] == "fake"
            and (DATA / r["local_path"]).is_file()]


def choose_sources(per_folder: int | None) -> list[Path]:
    clips = [p for p in real_clips() if "videos" in p.parts]
    if per_folder is None:
        return clips
    by_folder: dict[str, list[Path]] = defaultdict(list)
    for p in clips:
        by_folder[p.relative_to(DATA / "videos").parts[0]].append(p)
    out = []
    for _, ps in sorted(by_folder.items()):
        ps = sorted(ps)
        out += [ps[i] for i in np.linspace(0, len(ps) - 1, min(per_folder, len(ps))).round().astype(int)]
    return out


def write_selfblend_fake(src: Path, out: Path, frames: int, identity: object) -> None:
    """First ``frames`` frames of ``src`` self-blended, written and labelled like ``swap render`` output."""
    info = probe(src)
    embedder = WatermarkEmbedder(payload_for("self_blend"))
    sink = OpenCVSink(out, info.fps, info.width, info.height)
    try:
        for index, _ts, frame, faces in FacePipeline().run(src, info):
            if index >= frames:
                break
            if faces:
                main = max(faces, key=lambda f: f.size)
                frame = self_blend(frame, main.landmarks, np.random.default_rng(7))[0]
            sink.write(embedder.embed(frame))
    except BaseException:
        sink.abort()
        raise
    finalize(sink, src, h264=True, crf=18)
    got = read_file(out)
    if not got.found:
        raise RuntimeError(f"{out}: watermark does not read back as written (score {got.score:.1f})")
    sign_video(out, "self_blend", {"source": src.name, "frames": frames}, identity, watermark_payload=embedder.payload)


def render_fake(src: Path, out: Path, run: Path, to: str, frames: int) -> None:
    from generator.render import RenderOptions, render_swap

    clip = out.with_name(out.stem + ".src.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-frames:v", str(frames), "-c:v", "libx264",
                    "-crf", "12", str(clip)], check=True)
    render_swap(run, clip, to, out, RenderOptions(), progress=False)
    clip.unlink()


def transform(src: Path, dst: Path, vf: str | None, crf: int) -> None:
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), *(["-vf", vf] if vf else []), "-c:v", "libx264",
           "-crf", str(crf), "-pix_fmt", "yuv420p", "-an", str(dst)]
    subprocess.run(cmd, check=True)


def manifest_state(path: Path) -> str:
    info, _ = read_content_credentials(path)
    return "none" if info is None else "valid" if info["valid"] else "invalid"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--per-folder", type=int, default=4, help="source clips per folder of ../shared/data/videos")
    group.add_argument("--all", action="store_true", help="every real clip of ../shared/data/videos as a source")
    ap.add_argument("--frames", type=int, default=64, help="frames of each source clip made into a fake")
    ap.add_argument("--run", type=Path, help="a trained generator run: render real swaps instead of self-blends")
    ap.add_argument("--to", help="identity to render as (with --run)")
    ap.add_argument("--no-false-positives", action="store_true", help="skip the scan of every real clip")
    args = ap.parse_args()
    if not (DATA / "MANIFEST.tsv").is_file():
        raise SystemExit(f"{DATA} not found: this benchmark reads ../shared/data")
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is required")
    if args.run is not None and not args.to:
        raise SystemExit("--run needs --to NAME")
    sources = choose_sources(None if args.all else args.per_folder)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        os.environ.setdefault("FAKESCOPE_SIGNING_DIR", str(tmp / "signing"))  # never the user's key
        identity = load_signing_identity()
        found: dict[str, list[bool]] = defaultdict(list)
        payload_ok: dict[str, list[bool]] = defaultdict(list)
        scores: dict[str, list[float]] = defaultdict(list)
        manifests: dict[str, list[str]] = defaultdict(list)
        for n, src in enumerate(sources):
            fake = tmp / f"fake{n}.mp4"
            if args.run is not None:
                render_fake(src, fake, args.run, args.to, args.frames)
            else:
                write_selfblend_fake(src, fake, args.frames, identity)
            want = payload_for("self_blend") if args.run is None else None
            line = [f"{src.relative_to(DATA)} ({probe(fake).width}x{probe(fake).height})"]
            for name, spec in TRANSFORMS.items():
                path = fake
                if spec is not None:
                    path = tmp / f"t{n}.mp4"
                    transform(fake, path, *spec)
                got = read_file(path)
                found[name].append(got.found)
                payload_ok[name].append(got.found and (want is None or got.payload == want))
                scores[name].append(got.score)
                manifests[name].append(manifest_state(path))
                line.append(f"{name}={got.score:.1f}")
            print("  " + "  ".join(line), flush=True)
        print(f"\nWatermark on {len(sources)} fakes ({args.frames} frames each, "
              f"{'rendered swaps' if args.run else 'self-blends written like swap render'}), threshold {THRESHOLD}:")
        print(f"  {'transform':14s} {'detected':>9s} {'payload ok':>11s} {'min score':>10s} {'median':>7s}  C2PA manifest afterwards")
        for name in TRANSFORMS:
            rate, ok = np.mean(found[name]), np.mean(payload_ok[name])
            states = {s: manifests[name].count(s) for s in ("valid", "invalid", "none") if manifests[name].count(s)}
            print(f"  {name:14s} {rate:9.0%} {ok:11.0%} {min(scores[name]):10.1f} {np.median(scores[name]):7.1f}  "
                  + ", ".join(f"{k} {v}" for k, v in states.items()))

        # A manifest edited after signing must read as invalid.
        data = bytearray(tmp.joinpath("fake0.mp4").read_bytes())
        at = data.find(b"self_blend")
        data[at] ^= 0x20
        tmp.joinpath("edited.mp4").write_bytes(bytes(data))
        print(f"\nFake 0 with one byte of its manifest edited after signing: manifest {manifest_state(tmp / 'edited.mp4')}")

    if not args.no_false_positives:
        reals, others = real_clips(), other_fakes()
        print(f"\nFalse detections on {len(reals)} real clips and {len(others)} third-party fakes of {DATA}:")
        for label, clips in (("real", reals), ("third-party fake", others)):
            hits, worst = [], (0.0, None)
            for p in clips:
                got = read_file(p)
                if got.found:
                    hits.append(p)
                if got.score > worst[0]:
                    worst = (got.score, p)
            print(f"  {label:16s}: {len(hits)} of {len(clips)} flagged; highest score {worst[0]:.1f} "
                  f"({worst[1].relative_to(DATA) if worst[1] else '-'})")
            for p in hits:
                print(f"    FLAGGED {p.relative_to(DATA)}")
    print(f"\n{time.perf_counter() - t0:.0f} s on {os.cpu_count()} cores", file=sys.stderr)


if __name__ == "__main__":
    main()
