"""`fakescope forensics train edges|spectrum|pulse|avsync|temporal`: fit the forensic analyzers' small models.

Each command calls one library function (forensics.train_edges.fit_edges_model,
forensics.train_spectrum.fit_spectrum_model, forensics.train_pulse.fit_pulse_model,
forensics.train_avsync.fit_avsync_model, forensics.train_temporal.fit_temporal_model), imported only
when the command runs, and prints its one summary line. A model file is written only when its
training succeeded.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from fakescope.cli.common import EXIT_OK, group, output_file


def _faces_source(args: argparse.Namespace) -> dict[str, Any]:
    """The shared options of `train edges` and `train spectrum` as the library functions' arguments."""
    from forensics.train_edges import DEFAULT_DATA

    return {"data": args.data if args.data is not None else DEFAULT_DATA, "cache": args.cache, "seed": args.seed,
            "testsets": args.testset}


def cmd_forensics_train_edges(args: argparse.Namespace) -> int:
    from forensics.train_edges import WEIGHTS, fit_edges_model

    out = output_file(args.out or WEIGHTS, "--out")
    t0 = time.perf_counter()
    m = fit_edges_model(out=out, **_faces_source(args))
    print(f"edges model -> {out}: held-out AUC at JPEG 75 = {m['heldout_auc_jpeg75']:.3f} "
          f"({m['test_faces']} faces / {m['test_identities']} identities held out; {time.perf_counter() - t0:.0f} s)")
    return EXIT_OK


def cmd_forensics_train_spectrum(args: argparse.Namespace) -> int:
    from forensics.train_spectrum import WEIGHTS, fit_spectrum_model

    out = output_file(args.out or WEIGHTS, "--out")
    t0 = time.perf_counter()
    m = fit_spectrum_model(out=out, **_faces_source(args))
    print(f"spectrum model -> {out}: held-out AUC at JPEG 75 = {m['heldout_auc_jpeg75']:.3f} "
          f"(self-blend {m['heldout_auc_selfblend']:.3f}, upsampled {m['heldout_auc_upsampled']:.3f}; "
          f"{time.perf_counter() - t0:.0f} s)")
    return EXIT_OK


def cmd_forensics_train_pulse(args: argparse.Namespace) -> int:
    from forensics.train_pulse import WEIGHTS, Item, fit_pulse_model

    def on_video(it: Item, r: dict[str, Any]) -> None:
        print(f"{it.kind:6s} {it.path.name:45s} {r['status']:12s} bpm={r['bpm']} rule={r['rule_score']:.3f}",
              flush=True)

    out = output_file(args.out or WEIGHTS, "--out")
    t0 = time.perf_counter()
    m = fit_pulse_model(args.real, args.swaps, args.pseudo, args.cache, out, args.C, args.seed, on_video=on_video)
    print(f"pulse model -> {out}: grouped {m['cv_folds']}-fold CV AUC {m['cv_auc']:.3f} "
          f"(unconstrained {m['cv_auc_unconstrained']:.3f}, rule {m['rule_auc']:.3f}; {m['n_real']} real, "
          f"{m['n_fake']} fake, {m['n_insufficient']} insufficient; {time.perf_counter() - t0:.0f} s)")
    return EXIT_OK


def cmd_forensics_train_avsync(args: argparse.Namespace) -> int:
    from forensics.train_avsync import WEIGHTS, fit_avsync_model

    def on_clip(path: Path, what: str) -> None:
        print(f"{path.name:45s} {what}", flush=True)

    out = output_file(args.out or WEIGHTS, "--out")
    t0 = time.perf_counter()
    m = fit_avsync_model(args.real, args.cache, out, args.C, args.seed, on_clip=on_clip)
    print(f"avsync model -> {out}: leave-one-clip-out AUC {m['cv_auc_swapped']:.3f} vs swapped audio, "
          f"{m['cv_auc_shifted']:.3f} vs shifted audio ({m['clips']} clips, {m['n_swapped']} swapped and "
          f"{m['n_shifted']} shifted pairings; {time.perf_counter() - t0:.0f} s)")
    return EXIT_OK


def cmd_forensics_train_temporal(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from forensics.train_temporal import WEIGHTS, fit_temporal_model

    out = output_file(args.out or WEIGHTS, "--out")
    t0 = time.perf_counter()
    with tqdm(desc="temporal features", unit="video") as bar:
        def on_item(done: int, total: int, name: str) -> None:
            bar.total = total
            bar.update(done - bar.n)

        m = fit_temporal_model(args.data, args.cache, out, args.C, on_item=on_item)
    per = ", ".join(f"{k} {v:.3f}" for k, v in m["per_method"].items())
    lomo = ", ".join(f"{k} {v:.3f}" for k, v in m["leave_one_method_out"].items())
    print(f"temporal model -> {out}: held-out AUC {m['heldout_auc']:.3f} ({m['n_heldout']} videos of "
          f"{m['identities_heldout']} identities never trained on); per method: {per}; "
          f"leave-one-method-out: {lomo} ({time.perf_counter() - t0:.0f} s)")
    return EXIT_OK


def _add_faces_options(p: argparse.ArgumentParser, model: str) -> None:
    p.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="real videos and face photos to collect faces from (default: ../shared/data beside the "
                        "repository)")
    p.add_argument("--cache", type=Path, default=None, metavar="NPZ",
                   help="npz cache of collected real faces: read when it exists, else written")
    p.add_argument("--out", type=Path, default=None, metavar="JSON",
                   help=f"where to write the model (default: the shipped forensics/weights/{model}.json)")
    p.add_argument("--seed", type=int, default=0, metavar="N")
    p.add_argument("--testset", type=Path, nargs="*", default=None, metavar="DIR",
                   help="never train on faces of these test sets' validation/test videos (hold them out instead)")


def _add_model_options(p: argparse.ArgumentParser, model: str, cache_metavar: str, cache_help: str,
                       seed: bool = True) -> None:
    """--cache, --out, --C (and --seed) of the trainers that fit a logistic model on per-video features."""
    p.add_argument("--cache", type=Path, default=None, metavar=cache_metavar, help=cache_help)
    p.add_argument("--out", type=Path, default=None, metavar="JSON",
                   help=f"where to write the model (default: the shipped forensics/weights/{model}.json)")
    p.add_argument("--C", type=float, default=0.3, metavar="F", help="inverse L2 strength (default 0.3)")
    if seed:
        p.add_argument("--seed", type=int, default=0, metavar="N")


def register(sub: argparse._SubParsersAction) -> None:
    forensics = group(sub, "forensics", "forensic analyzers (no CNN): train their small models")
    train = group(forensics, "train", "fit a forensic analyzer's model")
    te = train.add_parser("edges", help="edge/blending model: real faces vs self-blends of them")
    _add_faces_options(te, "edges")
    te.set_defaults(func=cmd_forensics_train_edges)
    ts = train.add_parser("spectrum", help="spectrum model: real faces vs self-blends and upsampled crops")
    _add_faces_options(ts, "spectrum")
    ts.set_defaults(func=cmd_forensics_train_spectrum)
    tp = train.add_parser("pulse", help="pulse model: real videos vs swaps or pulse-washed copies")
    tp.add_argument("--real", nargs="*", default=[], metavar="VIDEO_OR_DIR",
                    help="real videos or folders (ignored with --swaps)")
    tp.add_argument("--swaps", type=Path, default=None, metavar="DIR",
                    help="folder of <clip>__to__<identity>.mp4 + originals.txt")
    tp.add_argument("--pseudo", action="store_true", help="add pulse-washed copies of the reals as fakes")
    _add_model_options(tp, "pulse", "JSON", "JSON cache of per-video features")
    tp.set_defaults(func=cmd_forensics_train_pulse)
    ta = train.add_parser("avsync", help="audio-visual sync model: real clips vs the same clips with other clips' "
                                         "or shifted audio")
    ta.add_argument("--real", nargs="+", required=True, metavar="VIDEO_OR_DIR",
                    help="real talking clips with speech on their audio track, or folders of them")
    _add_model_options(ta, "avsync", "NPZ",
                       "npz cache of the clips' mouth tracks (by content hash): an interrupted run resumes")
    ta.set_defaults(func=cmd_forensics_train_avsync)
    tt = train.add_parser("temporal", help="temporal model: test-set fakes vs reals over time (train split only)")
    tt.add_argument("--data", nargs="+", required=True, type=Path, metavar="TESTSET_DIR",
                    help="test sets made by `fakescope testset build` (their identity-disjoint splits are kept)")
    _add_model_options(tt, "temporal", "JSON",
                       "JSON cache of per-video features (by content hash): an interrupted run resumes", seed=False)
    tt.set_defaults(func=cmd_forensics_train_temporal)
