"""Command line entry point ``fakescope`` (contract: ../shared/DESIGN.md).

One module per command group; each registers its subcommands and imports its engines only when a
command runs, so `fakescope scan` never pays for training code. Exit codes: 0 success (any
verdict), 2 unusable input or arguments with one plain line on stderr, 1 internal error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fakescope.cli.common import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, Parser, one_line

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

# Command groups in the order `fakescope --help` lists them.
COMMAND_MODULES = ("scan", "cases", "audit", "registry", "dashboard", "testset", "swap", "detector", "forensics",
                   "fusion")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from fakescope import __version__

    parser = Parser(prog="fakescope", description="Deepfake detection and forensics suite.")
    parser.add_argument("--version", action="version", version=f"fakescope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"fakescope.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import os

    # OpenMP's default busy-wait makes 2 torch threads up to 20x slower when the 2 cores are shared
    # (see benchmarks/detector_speed.py); it is read once, before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that re-launch themselves (torchrun)
    try:
        return int(args.func(args))
    except KeyboardInterrupt as exc:
        from fakescope.cli.scan import Terminated

        print("fakescope: terminated" if isinstance(exc, Terminated) else "fakescope: interrupted", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except (ValueError, FileNotFoundError, PermissionError) as exc:
        msg = str(exc)  # escaped only when needed: a message may already carry an escaped name
        print(f"fakescope: error: {msg if msg.isprintable() else one_line(msg)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
