"""Audio-visual sync: AUC for replaced audio, lag error for shifted audio, on real files remuxed by ffmpeg.

    python benchmarks/avsync_accuracy.py [--data ../shared/data] [--swaps 3] [--keep DIR]

Exits 2 when ../shared/data (or ffmpeg) is missing.

Reals: every clip of ../shared/data/videos with an audio track (the clips the shipped model was
fitted on, so the shipped-model AUC here is in-sample; the leave-one-clip-out figure of
``fakescope forensics train avsync`` is the honest one and is printed too). For each real clip
the benchmark writes, with ``ffmpeg -c:v copy`` (the picture is untouched):

- ``--swaps`` copies whose audio is another real clip's (the next clips in sorted order);
- copies whose audio is shifted by +-200 ms and +-500 ms (``-itsoffset``).

Held out: the real clips of crossdataset/talking_heads with an audio track (never fitted on), cut
into pieces of ``--piece`` seconds, each against its own audio and against ``--swaps`` other
pieces' or clips' audio: the out-of-sample AUC for replaced audio.

Each file is then analysed end to end (decode, face tracking, landmarks, ffmpeg audio decode, the
analyzer), exactly as `fakescope scan` runs it. Printed: how many clips the analyzer could judge,
AUC real vs swapped (shipped model and the rule without a model), the lag error on shifted clips
(|measured lag - clip's own lag - shift|), and the same analyzer on crossdataset/talking_heads
(third-party talking-head animations with audio vs real clips: measured only, never fitted on).
Also: the analyzer's own cost per 10 s of video.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fakescope.core.audio import has_audio
from fakescope.core.faces import FacePipeline
from fakescope.core.metrics import roc_auc
from fakescope.core.video import probe
from forensics.avsync import AvSyncAnalyzer, rule_score

SHIFTS_MS = (200, -200, 500, -500)


def analyse(path: Path) -> tuple[dict | None, float, float]:
    """The longest track's avsync details (None: no face), the analyzer's seconds, and the video seconds."""
    info = probe(path)
    an = AvSyncAnalyzer()
    an.start(info)
    counts: dict[int, int] = {}
    spent = 0.0
    for index, ts, frame, faces in FacePipeline().run(path, info):
        t0 = time.perf_counter()
        an.update(index, ts, frame, faces, None)
        spent += time.perf_counter() - t0
        for f in faces:
            counts[f.track_id] = counts.get(f.track_id, 0) + 1
    t0 = time.perf_counter()
    ev = an.finish()
    spent += time.perf_counter() - t0
    if not counts:
        return None, spent, info.duration_s
    e = ev[max(counts, key=counts.__getitem__)]
    d = {"status": e.status, "score": e.score, **e.details}
    if e.status == "ok":
        d["rule"] = rule_score(e.details["features"])
    return d, spent, info.duration_s


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def replace_audio(video: Path, audio_from: Path, out: Path) -> Path:
    """``video``'s picture, untouched, with ``audio_from``'s audio track (as long as the shorter of the two)."""
    ffmpeg("-i", str(video), "-i", str(audio_from), "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-shortest", str(out))
    return out


def held_out(th: Path, own: list[Path], work: Path, piece: float, swaps: int) -> None:
    """AUC real vs replaced audio on real clips the model never saw, cut into ``piece``-second pieces."""
    if not (th / "manifest.csv").is_file():
        return
    pieces: list[Path] = []
    for row in csv.DictReader((th / "manifest.csv").open()):
        p = th / row["path"]
        if row["label"] != "real" or not p.is_file() or not has_audio(p):
            continue
        dur = probe(p).duration_s
        for k in range(max(1, int(dur // piece))):
            out = work / f"heldout_{p.stem}_{k}.mp4"
            ffmpeg("-ss", f"{k * piece:.3f}", "-i", str(p), "-t", f"{min(piece, dur):.3f}", "-c:v", "libx264",
                   "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", str(out))
            pieces.append(out)
    res = {p: analyse(p)[0] for p in pieces}
    ok = [p for p in pieces if res[p] is not None and res[p]["status"] == "ok"]
    audio_pool = ok + own
    reals, fakes = [res[p]["score"] for p in ok], []
    for i, p in enumerate(ok):
        others = [a for a in audio_pool if a != p]
        for k in range(min(swaps, len(others))):
            a = others[(i + k) % len(others)]
            out = work / f"{p.stem}__audio_{a.stem}.mp4"
            d, _, _ = analyse(replace_audio(p, a, out))
            if d is not None and d["status"] == "ok":
                fakes.append(d["score"])
    if reals and fakes:
        y = [0] * len(reals) + [1] * len(fakes)
        print(f"held out (crossdataset/talking_heads reals with audio, {piece:g} s pieces): {len(ok)} of "
              f"{len(pieces)} pieces judged, {len(fakes)} replaced-audio copies judged; AUC "
              f"{roc_auc(y, reals + fakes):.3f}; median P(fake) {np.median(reals):.2f} real, {np.median(fakes):.2f} replaced")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--swaps", type=int, default=3, help="replaced-audio copies per real clip")
    ap.add_argument("--piece", type=float, default=10.0, help="length of the held-out pieces, seconds")
    ap.add_argument("--keep", type=Path, default=None, help="keep the remuxed files here")
    args = ap.parse_args()
    videos = args.data / "videos"
    if not videos.is_dir() or shutil.which("ffmpeg") is None:
        print(f"needs {videos} and ffmpeg", file=sys.stderr)
        return 2
    reals = sorted(p for p in videos.rglob("*.mp4") if has_audio(p) and probe(p).duration_s >= 3.0)
    work = Path(tempfile.mkdtemp(prefix="avsync_bench_")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    real_res: dict[Path, dict] = {}
    cost, seconds = 0.0, 0.0
    for p in reals:
        d, spent, dur = analyse(p)
        cost, seconds = cost + spent, seconds + dur
        if d is not None:
            real_res[p] = d
    judged = [p for p, d in real_res.items() if d["status"] == "ok"]
    print(f"real clips with audio: {len(reals)}; judged (speech and a talking face): {len(judged)}; "
          f"insufficient: {len(reals) - len(judged)}")
    swapped: list[dict] = []
    shifted: list[tuple[Path, int, dict]] = []
    for i, p in enumerate(judged):
        for k in range(1, args.swaps + 1):
            other = judged[(i + k) % len(judged)]
            out = work / f"{p.stem}__audio_{other.stem}.mp4"
            d, _, _ = analyse(replace_audio(p, other, out))
            if d is not None:
                swapped.append(d)
        for ms in SHIFTS_MS:
            out = work / f"{p.stem}__shift{ms:+d}.mp4"
            ffmpeg("-i", str(p), "-itsoffset", f"{ms / 1000:.3f}", "-i", str(p), "-map", "0:v:0", "-map", "1:a:0",
                   "-c", "copy", str(out))
            d, _, _ = analyse(out)
            if d is not None:
                shifted.append((p, ms, d))
    ok_sw = [d for d in swapped if d["status"] == "ok"]
    y = [0] * len(judged) + [1] * len(ok_sw)
    model = [real_res[p]["score"] for p in judged] + [d["score"] for d in ok_sw]
    rule = [real_res[p]["rule"] for p in judged] + [d["rule"] for d in ok_sw]
    print(f"replaced audio: {len(swapped)} files, {len(ok_sw)} judged; AUC real vs replaced: shipped model "
          f"{roc_auc(y, model):.3f}, rule {roc_auc(y, rule):.3f} (in-sample for the model: same clips)")
    for ms in SHIFTS_MS:
        errs = [abs(d["lag_ms"] - real_res[p]["lag_ms"] - ms) for p, s, d in shifted if s == ms and d["status"] == "ok"]
        scores = [d["score"] for p, s, d in shifted if s == ms and d["status"] == "ok"]
        if errs:
            print(f"shifted {ms:+5d} ms: {len(errs)} judged; lag error median {np.median(errs):.0f} ms, within 80 ms "
                  f"{np.mean(np.array(errs) <= 80):.2f}; median P(fake) {np.median(scores):.2f} "
                  f"(reals {np.median([real_res[p]['score'] for p in judged]):.2f})")
    th = args.data / "crossdataset" / "talking_heads"
    held_out(th, judged, work, args.piece, args.swaps)
    if (th / "manifest.csv").is_file():
        ys, ss = [], []
        for row in csv.DictReader((th / "manifest.csv").open()):
            p = th / row["path"]
            if not p.is_file() or not has_audio(p):
                continue
            d, _, _ = analyse(p)
            if d is not None and d["status"] == "ok":
                ys.append(int(row["label"] == "fake"))
                ss.append(d["score"])
        n_f, n_r = sum(ys), len(ys) - sum(ys)
        auc = roc_auc(ys, ss) if n_f and n_r else float("nan")
        print(f"crossdataset/talking_heads with audio: {n_f} fake and {n_r} real judged; AUC {auc:.3f} "
              "(measured only; animation tools drive the mouth from the audio, so sync is their strength)")
    print(f"analyzer cost: {1000 * cost / max(seconds, 1e-9) * 10:.0f} ms per 10 s of video (update + finish, "
          f"audio decode included); whole benchmark {time.perf_counter() - t_all:.0f} s")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
