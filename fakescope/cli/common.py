"""What every command module shares: exit codes, the one-line argument errors, the one-line file errors."""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        print(f"fakescope: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def err(path: object, reason: str) -> None:
    """``fakescope: error: PATH: REASON`` on stderr: the contract's one plain line per bad input."""
    print(f"fakescope: error: {path}: {reason}", file=sys.stderr)


def group(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse._SubParsersAction:
    """A command group (``fakescope NAME SUBCOMMAND``) whose subcommands are required."""
    return sub.add_parser(name, help=help_text).add_subparsers(dest=f"{name}_command", required=True,
                                                              parser_class=Parser)
