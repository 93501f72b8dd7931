"""Sub-commands that train and run models: `swap train|render|eval`, `detector train|list`.

Kept apart from fakescope/cli.py so the scan path imports nothing of training.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _identities(pairs: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pair in pairs:
        name, sep, src = pair.partition("=")
        if not sep or not name or not src:
            raise ValueError(f"--identity expects NAME=VIDEO_OR_DIR, got {pair!r}")
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"identity name {name!r} may only hold letters, digits, '-' and '_'")
        if not Path(src).exists():
            raise FileNotFoundError(f"{src}: no such file or directory (identity {name})")
        out[name] = Path(src)
    return out


def cmd_swap_train(args: argparse.Namespace) -> int:
    from generator.train import train_swap

    result = train_swap(_identities(args.identity or []), Path(args.out), args.preset, minutes=args.minutes,
                        resume=args.resume, progress=not args.quiet, max_steps=args.steps, seed=args.seed,
                        gan=not args.no_gan, gan_start_step=args.gan_start)
    print(result)
    return 0


def cmd_swap_render(args: argparse.Namespace) -> int:
    from generator.render import RenderOptions, render_swap

    opts = RenderOptions(colour=args.colour, blend=args.blend, all_faces=args.all_faces)
    result = render_swap(Path(args.run), Path(args.input), args.to, Path(args.output), opts, progress=not args.quiet)
    print(f"{result.output}: {result.frames} frames ({result.frames_swapped} swapped) at "
          f"{result.frames_per_second:.1f} frames/s, codec {result.codec}, audio {'kept' if result.audio else 'none'}")
    return 0


def cmd_swap_eval(args: argparse.Namespace) -> int:
    from generator.evaluate import evaluate_swap

    result = evaluate_swap(Path(args.run), Path(args.input), Path(args.swapped), args.source, args.to,
                           Path(args.out), progress=not args.quiet)
    print(json.dumps(result.as_json(), indent=2))
    return 0


def _launch_torchrun(args: argparse.Namespace) -> int:
    """`detector train --distributed` outside torchrun: run this same command as --nproc torchrun processes."""
    import os
    import subprocess

    from detector.distributed import torchrun_command

    if args.nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {args.nproc}")
    if args.batch_size % args.nproc:
        raise ValueError(f"--batch-size {args.batch_size} must be a multiple of --nproc {args.nproc}, so each "
                         "process holds the same share of every global batch")
    # Usage errors are found here, once, with one line and exit 2 -- not once per rank under torchrun's report.
    from detector.registry import detector_spec

    detector_spec(args.arch)  # ValueError naming the choices
    try:
        json.loads(args.arch_kwargs)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--arch-kwargs is not JSON: {exc}") from None
    for d in args.data:
        if not Path(d).exists():
            raise FileNotFoundError(f"{d}: no such test set (--data)")
    # One OpenMP thread per process unless told otherwise: the processes are the parallelism.
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.call(torchrun_command(args.argv, args.nproc), env=env)


def cmd_detector_train(args: argparse.Namespace) -> int:
    from detector.distributed import Dist, init_from_env, shutdown, under_torchrun

    if args.distributed and not under_torchrun():
        return _launch_torchrun(args)
    from detector.augment import AugmentConfig
    from detector.train import TrainConfig, train_detector

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, input_size=args.input_size, seed=args.seed,
                      resume=args.resume, progress=not args.quiet, bf16=args.bf16,
                      exclude_methods=tuple(args.exclude_method or ()), steps_per_epoch=args.steps_per_epoch,
                      fusion_holdout=args.fusion_holdout, sbi_fraction=args.sbi, ema_decay=args.ema,
                      seam_weight=args.seam, augment=AugmentConfig(defocus=args.defocus),
                      patience=args.patience if args.patience > 0 else args.epochs + 1,
                      arch_kwargs=json.loads(args.arch_kwargs))
    dist = init_from_env() if args.distributed else Dist()
    try:
        result = train_detector([Path(d) for d in args.data], args.arch, Path(args.out), cfg, dist)
    finally:
        shutdown()
    if not dist.is_main:
        return 0
    test = result.metrics.get("test", {})
    print(f"{args.out}: best epoch {result.best_epoch}/{result.epochs_run}; test video AUC "
          f"{test.get('video_auc')}, frame AUC {test.get('frame_auc')}")
    return 0


def cmd_detector_list(args: argparse.Namespace) -> int:
    from detector.catalog import catalog

    for e in catalog():
        size = f"{e.input_size}px" if e.input_size else "-"
        print(f"{e.kind:12s} {e.name:22s} {e.arch:20s} {size:6s} {e.summary}")
    return 0


def register(sub: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    swap = sub.add_parser("swap", help="autoencoder-GAN face swap").add_subparsers(
        dest="swap_command", required=True, parser_class=parser_class)
    st = swap.add_parser("train", help="train a face-swap model on two or more identities")
    st.add_argument("--identity", action="append", metavar="NAME=VIDEO_OR_DIR")
    st.add_argument("--out", required=True, metavar="RUN_DIR")
    st.add_argument("--preset", choices=["quick", "standard"], default="quick")
    st.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    st.add_argument("--steps", type=int, default=None, help="stop after this many iterations")
    st.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    st.add_argument("--no-gan", action="store_true", help="train without the discriminator")
    st.add_argument("--gan-start", type=int, default=None, metavar="STEP",
                    help="step at which the discriminator joins (default: the preset's); with --resume this "
                         "may switch the GAN on for a run trained without it")
    st.add_argument("--seed", type=int, default=0)
    st.add_argument("--quiet", action="store_true")
    st.set_defaults(func=cmd_swap_train)

    sr = swap.add_parser("render", help="render a video with its face swapped to a trained identity")
    sr.add_argument("--run", required=True, metavar="RUN_DIR")
    sr.add_argument("--input", required=True, metavar="VIDEO")
    sr.add_argument("--to", required=True, metavar="NAME")
    sr.add_argument("--output", required=True, metavar="OUT.mp4")
    sr.add_argument("--colour", choices=["reinhard", "histogram", "none"], default="reinhard")
    sr.add_argument("--blend", choices=["feather", "seamless"], default="feather")
    sr.add_argument("--all-faces", action="store_true")
    sr.add_argument("--quiet", action="store_true")
    sr.set_defaults(func=cmd_swap_render)

    se = swap.add_parser("eval", help="identity transfer, expression error and SSIM of a rendered swap")
    se.add_argument("--run", required=True, metavar="RUN_DIR")
    se.add_argument("--input", required=True, metavar="VIDEO")
    se.add_argument("--swapped", required=True, metavar="VIDEO")
    se.add_argument("--source", required=True, metavar="NAME")
    se.add_argument("--to", required=True, metavar="NAME")
    se.add_argument("--out", required=True, metavar="DIR")
    se.add_argument("--quiet", action="store_true")
    se.set_defaults(func=cmd_swap_eval)

    det = sub.add_parser("detector", help="CNN detectors").add_subparsers(
        dest="detector_command", required=True, parser_class=parser_class)
    dt = det.add_parser("train", help="train a detector on test sets")
    dt.add_argument("--data", nargs="+", required=True, metavar="TESTSET_DIR")
    dt.add_argument("--arch", required=True, metavar="NAME", help="see `fakescope detector list`")
    dt.add_argument("--out", required=True, metavar="MODEL_DIR")
    dt.add_argument("--arch-kwargs", default="{}", metavar="JSON", help='e.g. \'{"width_mult": 0.5}\'')
    dt.add_argument("--epochs", type=int, default=20)
    dt.add_argument("--batch-size", type=int, default=32)
    dt.add_argument("--input-size", type=int, default=128)
    dt.add_argument("--steps-per-epoch", type=int, default=None)
    dt.add_argument("--exclude-method", action="append", metavar="METHOD",
                    help="leave a fake method out of training (still tested on it)")
    dt.add_argument("--bf16", action="store_true")
    dt.add_argument("--fusion-holdout", action="store_true",
                    help="keep half the validation identities for `python -m fakescope.scan.fusion_fit --holdout`")
    dt.add_argument("--sbi", type=float, default=0.0, metavar="FRACTION",
                    help="share of each batch made of real crops paired with fresh self-blends of them (e.g. 0.5)")
    dt.add_argument("--patience", type=int, default=4, metavar="EPOCHS",
                    help="stop after this many epochs without a validation AUC gain; 0 runs every epoch (a small "
                         "validation split makes early stopping noisy; the best validation epoch is still kept)")
    dt.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                    help="validate, select and save an exponential moving average of the weights (e.g. 0.998; "
                         "0, the default, keeps the raw weights)")
    dt.add_argument("--seam", type=float, default=0.0, metavar="WEIGHT",
                    help="with --sbi and an arch that maps seams (meso4_xray): weight of the Face X-ray seam-map "
                         "loss on online self-blends and reals (e.g. 1.0)")
    dt.add_argument("--defocus", type=float, default=0.0, metavar="P",
                    help="probability of blurring the background beyond the face hull of reals and their online "
                         "self-blends (offline fakes keep theirs), so a face sharper than a defocused studio "
                         "background is not taken as a sign of a real")
    dt.add_argument("--resume", action="store_true")
    dt.add_argument("--seed", type=int, default=0)
    dt.add_argument("--quiet", action="store_true")
    dt.add_argument("--distributed", action="store_true",
                    help="data-parallel training (DDP, gloo): launches torchrun unless already under it")
    dt.add_argument("--nproc", type=int, default=2, metavar="N", help="with --distributed: processes on this machine")
    dt.set_defaults(func=cmd_detector_train)
    dl = det.add_parser("list", help="registered architectures and shipped models")
    dl.set_defaults(func=cmd_detector_list)
