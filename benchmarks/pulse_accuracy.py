"""Pulse analyzer on the real clips of ../shared/data: detected pulses, bpm, AUC against swaps, cost.

For every video in ``--videos`` (default ../shared/data/videos) it decodes the clip through the
face pipeline, feeds the pulse analyzer and prints, per clip, the status, the estimated bpm and
the pulse SNR. A pulse counts as *detected* by the analyzer's own rule (forensics.pulse: in at least
half of the 10 s windows the face's SNR is >= -3 dB and at least two of forehead and cheeks peak
within 6 bpm of the face's peak). Clips whose face is stable for less than 5 s are insufficient
and left out of the fraction.

With ``--swaps DIR`` (``<clip>__to__<identity>.mp4`` plus ``originals.txt``) it also prints the
AUC of real originals against their swaps: out-of-fold, with folds that keep a clip and its swaps
together (forensics.train_pulse.cross_validate), and of the rule score that needs no training.

update() cost is measured around the analyzer only (face pipeline excluded), in ms per frame, in
two ways: along the decode of every clip (wall time, inflated when the machine is busy), and on
the first face frame of the largest clip replayed 300 times (best of 5 rounds: the cost itself).

Usage: python benchmarks/pulse_accuracy.py [--videos DIR] [--swaps DIR] [--cache features.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fakescope.core.atomicio import write_text_atomic
from fakescope.core.faces import FacePipeline
from fakescope.core.types import FaceObservation
from fakescope.core.video import expand_video_inputs, probe
from forensics.pulse import PulseAnalyzer
from forensics.train_pulse import Item, auc, cross_validate, feature_matrix, load_cache, row_for, swap_items

DEFAULT_VIDEOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "videos"


def replay_cost(path: Path, n: int = 300, rounds: int = 5) -> tuple[float, tuple[int, int], float]:
    """Best-of-``rounds`` ms per update() on the first frame with a face, replayed ``n`` times
    with advancing timestamps; returns (ms, frame size, face inter-ocular distance in px)."""
    info = probe(path)
    found = next(((fr, fc) for _, _, fr, fc in FacePipeline().run(path, info) if fc), None)
    if found is None:
        raise ValueError(f"{path}: no face found to time update() on")
    frame, f0 = found[0], found[1][0]
    best = float("inf")
    for _ in range(rounds):
        an = PulseAnalyzer(use_model=False)
        an.start(info)
        obs = [FaceObservation(i, i / 30.0, f0.track_id, f0.box, f0.landmarks) for i in range(n)]
        t0 = time.perf_counter()
        for o in obs:
            an.update(o.frame_index, o.timestamp, frame, [o], None)
        best = min(best, (time.perf_counter() - t0) / n * 1e3)
    iod = float(np.hypot(*(f0.landmarks[45] - f0.landmarks[36])))
    return best, frame.shape[:2], iod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    ap.add_argument("--swaps", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=None, help="JSON cache of per-video features (shared with `fakescope forensics train pulse`)")
    args = ap.parse_args()
    cache = load_cache(args.cache)

    def rows_of(items: list[Item]) -> list[dict]:
        rows = []
        for it in items:
            rows.append(row_for(it, cache))
            if args.cache is not None:
                write_text_atomic(args.cache, json.dumps(cache, indent=1))
        return rows

    reals = [Item(p, 0, p.stem, "real") for p in expand_video_inputs([args.videos])]
    real_rows = rows_of(reals)
    print(f"{'clip':40s} {'status':12s} {'stable s':>8s} {'bpm':>6s} {'snr dB':>7s} {'ms/frame':>8s} {'px':>8s}")
    for r in real_rows:
        snr = (r["features"] or {}).get("snr_db")
        print(f"{Path(r['path']).name[:40]:40s} {r['status']:12s} {r['stable_seconds']:8.1f} "
              f"{r['bpm'] if r['bpm'] is not None else '-':>6} {snr if snr is not None else float('nan'):7.2f} "
              f"{r['update_ms_per_frame']:8.3f} {r['pixels']:8d}")
    ok = [r for r in real_rows if r["status"] == "ok"]
    det = [r for r in ok if r["detected"]]
    print(f"\nreal clips with >= 5 s of stable face: {len(ok)} of {len(real_rows)}; "
          f"pulse detected in {len(det)} ({len(det) / max(len(ok), 1):.0%}); "
          f"bpm {sorted(r['bpm'] for r in det)}")
    frames = sum(r["frames"] for r in real_rows)
    cost = sum(r["update_ms_per_frame"] * r["frames"] for r in real_rows) / max(frames, 1)
    big = [r for r in real_rows if r["pixels"] >= 1280 * 720]
    print(f"update(): {cost:.3f} ms/frame over {frames} frames"
          + (f"; at >= 720p: {np.mean([r['update_ms_per_frame'] for r in big]):.3f} ms/frame ({len(big)} clips)" if big else ""))
    largest = max((r for r in ok), key=lambda r: r["pixels"], default=None)
    if largest is not None:
        ms, (h, w), iod = replay_cost(Path(largest["path"]))
        print(f"update() replayed on {Path(largest['path']).name} ({w}x{h}, face IOD {iod:.0f} px): {ms:.3f} ms/frame")

    if args.swaps is not None:
        s_reals, fakes = swap_items(args.swaps)
        rows = rows_of(s_reals) + rows_of(fakes)
        x, y, groups, used = feature_matrix(rows)
        oof, k = cross_validate(x, y, groups)
        good = np.isfinite(oof)
        rule = np.array([r["rule_score"] for r in used])
        fake_rows = [r for r in rows if r["label"] == 1]
        fake_det = [r for r in fake_rows if r["status"] == "ok" and r["detected"]]
        print(f"\nswaps: {len(fake_rows)} ({sum(r['status'] == 'ok' for r in fake_rows)} usable), originals "
              f"{len(s_reals)}; pulse 'detected' in {len(fake_det)} swaps")
        print(f"AUC real vs swaps: grouped {k}-fold CV model {auc(y[good], oof[good]):.3f} "
              f"(n={int(good.sum())}), rule score {auc(y, rule):.3f} (n={len(y)})")


if __name__ == "__main__":
    main()
