"""`fakescope swap train|render|eval`: the autoencoder-GAN face swap (generator)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fakescope.cli.common import group, output_dir, output_file


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

    result = train_swap(_identities(args.identity or []), output_dir(args.out, "--out"), args.preset, minutes=args.minutes,
                        resume=args.resume, progress=not args.quiet, max_steps=args.steps, seed=args.seed,
                        gan=False if args.no_gan else None, gan_start_step=args.gan_start,
                        feature_matching=args.feature_matching)
    print(result)
    return 0


def cmd_swap_render(args: argparse.Namespace) -> int:
    from generator.render import RenderOptions, render_swap

    opts = RenderOptions(colour=args.colour, blend=args.blend, all_faces=args.all_faces, detail=args.detail,
                         detail_mode=args.detail_mode)
    result = render_swap(Path(args.run), Path(args.input), args.to, output_file(args.output, "--output"), opts, progress=not args.quiet)
    print(f"{result.output}: {result.frames} frames ({result.frames_swapped} swapped) at "
          f"{result.frames_per_second:.1f} frames/s, codec {result.codec}, audio {'kept' if result.audio else 'none'}")
    label = result.label
    if label:  # every render is labelled (DESIGN "Labelled output"); say how
        print(f"labelled as AI-generated ({label['method']}): watermark {label['watermark']['payload']} "
              f"(read-back score {label['watermark']['score']:.1f}), C2PA manifest signed by {label['c2pa']['signer']}")
    return 0


def cmd_swap_eval(args: argparse.Namespace) -> int:
    from generator.evaluate import evaluate_swap

    result = evaluate_swap(Path(args.run), Path(args.input), Path(args.swapped), args.source, args.to,
                           output_dir(args.out, "--out"), progress=not args.quiet)
    print(json.dumps(result.as_json(), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    swap = group(sub, "swap", "autoencoder-GAN face swap")
    st = swap.add_parser("train", help="train a face-swap model on two or more identities")
    st.add_argument("--identity", action="append", metavar="NAME=VIDEO_OR_DIR")
    st.add_argument("--out", required=True, metavar="RUN_DIR")
    st.add_argument("--preset", choices=["quick", "standard"], default=None,
                    help="model size (default: quick; with --resume, the run's own)")
    st.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    st.add_argument("--steps", type=int, default=None, help="stop after this many iterations")
    st.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    st.add_argument("--no-gan", action="store_true", help="train without the discriminator")
    st.add_argument("--gan-start", type=int, default=None, metavar="STEP",
                    help="step at which the discriminator joins (default: the preset's; with --resume, the "
                         "run's own); with --resume this may switch the GAN on for a run trained without it")
    st.add_argument("--feature-matching", type=float, default=None, metavar="WEIGHT",
                    help="with the GAN: also match the discriminator's activations of each fake to those of "
                         "its real crop (pix2pixHD-style; sharper texture than the adversarial term alone), "
                         "e.g. 1.0; default 0 (off; with --resume, the run's own)")
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
    sr.add_argument("--detail", type=float, default=None, metavar="FRACTION",
                    help="sharpen the swapped face to this fraction of the original face's fine detail "
                         "(Laplacian variance, at 128 px), e.g. 0.8; default: as decoded")
    sr.add_argument("--detail-mode", choices=["sharpen", "transfer"], default="sharpen",
                    help="with --detail: 'sharpen' unsharp-masks the swapped face; 'transfer' first takes the "
                         "original face's finest texture band (more natural, but some of the original "
                         "identity comes back)")
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
