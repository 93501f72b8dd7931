"""What every command module shares: exit codes, the one-line argument errors, the one-line file errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fakescope.core.errors import one_line

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "Parser", "err", "group", "one_line", "output_dir",
           "output_file"]

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        print(f"fakescope: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def err(path: object, reason: str) -> None:
    """``fakescope: error: PATH: REASON`` on stderr: the contract's one plain line per bad input."""
    print(f"fakescope: error: {one_line(path)}: {one_line(reason)}", file=sys.stderr)


def group(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse._SubParsersAction:
    """A command group (``fakescope NAME SUBCOMMAND``) whose subcommands are required."""
    return sub.add_parser(name, help=help_text).add_subparsers(dest=f"{name}_command", required=True,
                                                              parser_class=Parser)


def _writable_from(p: Path, start: Path, flag: str) -> Path:
    """``p`` if the nearest existing folder at or above ``start`` is a folder this process can write in."""
    anc = start
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise ValueError(f"{p}: {anc} is a file, not a folder ({flag})")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ValueError(f"{p}: cannot write in {anc}: permission denied ({flag})")
    return p


def output_file(value: str | os.PathLike[str], flag: str) -> Path:
    """An output file this run will be able to write, checked before any work starts.

    ValueError (exit 2, one line) when it names a directory, sits under a file, or its folder is not
    writable: a batch must not run for an hour and then fail to save what it found."""
    p = Path(value)
    if p.is_dir():
        raise ValueError(f"{p}: is a directory; {flag} needs a file name")
    return _writable_from(p, p.parent if str(p.parent) else Path("."), flag)


def output_dir(value: str | os.PathLike[str], flag: str) -> Path:
    """An output folder this run will be able to create or write into, checked before any work starts."""
    p = Path(value)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{p}: exists and is not a folder; {flag} needs a folder")
    return _writable_from(p, p, flag)
