"""`fakescope testset build|photos`: labelled test sets of real and fake clips (the generator's output)."""

from __future__ import annotations

import argparse

from fakescope.cli.common import EXIT_OK, group, output_dir


def cmd_testset_build(args: argparse.Namespace) -> int:
    from generator.testset import TestsetConfig, build_testset

    out = output_dir(args.out, "--out")
    if args.attack and not args.detector:
        raise ValueError("--attack needs --detector NAME_OR_DIR (the detector to attack)")
    extra = {"methods": tuple(args.methods)} if args.methods else {}
    cfg = TestsetConfig(seed=args.seed, runs=tuple(args.run or ()), attack=args.attack, attack_detector=args.detector,
                        segments_per_video=args.segments, clip_frames=args.frames, **extra)
    target = None
    if args.attack:  # the generator attacks through callables; it never imports a detector itself
        from fakescope.scan.models import load_detector

        target = load_detector(args.detector).attack_target()
    manifest = build_testset(args.real, out, cfg, progress=not args.quiet, attack_target=target)
    print(f"manifest: {manifest}")
    return EXIT_OK


def cmd_testset_photos(args: argparse.Namespace) -> int:
    from generator.photoreals import build_photo_reals

    manifest = build_photo_reals(args.faces, output_dir(args.out, "--out"), progress=not args.quiet,
                                 exclude=args.exclude or ())
    print(f"manifest: {manifest}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    testset = group(sub, "testset", "build adversarial test sets")
    tb = testset.add_parser("build", help="build a test set from real videos")
    tb.add_argument("--real", nargs="+", required=True, metavar="VIDEO_OR_DIR")
    tb.add_argument("--out", required=True, metavar="DIR")
    tb.add_argument("--seed", type=int, default=0)
    tb.add_argument("--run", action="append", metavar="RUN_DIR",
                    help="generator run for ae_swap / ae_gan_swap / ae_recon fakes (repeatable)")
    tb.add_argument("--methods", nargs="+", metavar="METHOD",
                    help="fake methods to make (default: all that the inputs allow): self_blend warp reenact animate "
                         "ae_swap ae_gan_swap ae_recon")
    tb.add_argument("--attack", choices=["fgsm", "pgd"])
    tb.add_argument("--detector", metavar="NAME", help="detector attacked by --attack")
    tb.add_argument("--segments", type=int, default=3, help="segments cut from each real video")
    tb.add_argument("--frames", type=int, default=48, help="frames per item")
    tb.add_argument("--quiet", action="store_true")
    tb.set_defaults(func=cmd_testset_build)
    tp = testset.add_parser("photos", help="extra real identities from still photos (train split only; for --sbi)",
                            description="Align the largest face of every photo (tight crops are padded by "
                                        "reflection) into a train-split photo set. Progress is saved every 256 "
                                        "photos: after an interruption, run the same command again to resume.")
    tp.add_argument("--faces", nargs="+", required=True, metavar="DIR",
                    help="folders of face photos whose people appear in none of the test set's videos")
    tp.add_argument("--out", required=True, metavar="DIR")
    tp.add_argument("--exclude", action="append", metavar="GLOB",
                    help="leave out photos whose path inside their folder matches, e.g. 'Donald_Trump/*' for a "
                         "person who is in the test set's videos; repeatable")
    tp.add_argument("--quiet", action="store_true")
    tp.set_defaults(func=cmd_testset_photos)
