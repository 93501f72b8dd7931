"""Sub-commands of the provenance registry: `registry add`, `registry verify`, `registry list`.

`add` and `verify` print the registry's head (``head: HASH (N entries)``); kept somewhere the
registry's writers cannot change, it is what `registry verify --expect-head HASH` checks the
chain against (see fakescope.provenance.registry for what that catches and what it cannot).
A failed verification exits 2, like any other unusable input, with one line on stderr naming
the registry and what was found. File names and labels are printed with control characters
escaped, so every message stays on one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

from fakescope.cli.common import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, group


def _one_line(text: object) -> str:
    from fakescope.core.errors import one_line

    return one_line(text)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """The errors `fakescope` turns into its one stderr line, with control characters escaped."""
    try:
        yield
    except FileNotFoundError as exc:
        raise FileNotFoundError(_one_line(exc)) from exc
    except ValueError as exc:
        raise ValueError(_one_line(exc)) from exc


def _one_line_command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    @wraps(fn)
    def run(args: argparse.Namespace) -> int:
        with _one_line_errors():
            return fn(args)

    return run


def _db(args: argparse.Namespace) -> Path:
    from fakescope.provenance.registry import default_registry_path

    return Path(args.registry) if args.registry else default_registry_path()


def _head_line(head: str, entries: int) -> str:
    return f"head: {head} ({entries} entries)"


@_one_line_command
def cmd_registry_add(args: argparse.Namespace) -> int:
    from fakescope.core.errors import UnusableInputError
    from fakescope.core.video import expand_video_inputs
    from fakescope.provenance.analyzer import register_videos
    from fakescope.provenance.registry import registry_state

    paths = expand_video_inputs(args.videos)
    if not paths:
        raise ValueError(f"{' '.join(args.videos)}: no video files found")
    db, unusable, internal = _db(args), False, False
    for p in paths:  # one bad file never stops the others
        try:
            [(_, entry, added)] = register_videos([p], db, args.label, progress=not args.quiet and sys.stderr.isatty())
        except UnusableInputError as exc:
            print(f"fakescope: error: {_one_line(exc.path)}: {_one_line(exc.reason)}", file=sys.stderr)
            unusable = True
            continue
        except ValueError:  # e.g. --registry names a file that is not a registry: stops every add (exit 2)
            raise
        except Exception as exc:  # noqa: BLE001 - reported for this file only
            print(f"fakescope: error: {_one_line(p)}: internal error: {exc.__class__.__name__}: {_one_line(exc)}",
                  file=sys.stderr)
            internal = True
            continue
        state = "registered" if added else "already registered"
        print(f"{_one_line(p)}: {state} as entry {entry.seq} id {entry.entry_id} label {entry.label!r} "
              f"({len(entry.fingerprint)} samples, {entry.fingerprint.duration_s:.1f} s) in {_one_line(db)}")
    if db.is_file():
        # the head after these additions: keep it outside the registry for `registry verify --expect-head`
        print(_head_line(*registry_state(db)))
    return EXIT_INTERNAL if internal else EXIT_USAGE if unusable else EXIT_OK


@_one_line_command
def cmd_registry_verify(args: argparse.Namespace) -> int:
    from fakescope.provenance.registry import parse_head, verify_registry

    expected = parse_head(args.expect_head) if args.expect_head is not None else None  # bad hash: exit 2 first
    db = _db(args)
    name = _one_line(db)
    result = verify_registry(db, expected)
    if result.ok:
        anchored = ("head matches --expect-head" if expected is not None else
                    "head not checked against a recorded one (pass --expect-head HASH to also catch removed "
                    "newest entries or a replaced database)")
        print(f"{name}: intact, {result.entries} entries, {anchored}")
        print(_head_line(result.head, result.entries))
        return EXIT_OK
    for problem in result.problems:
        print(f"{name}: {_one_line(problem)}")
    if result.chain_ok:  # a consistent chain, just not the recorded one: say which head it has
        print(_head_line(result.head, result.entries))
        print(f"fakescope: error: {name}: head mismatch: {_one_line(result.head_problem.reason)}", file=sys.stderr)
        return EXIT_USAGE
    print(f"fakescope: error: {name}: tampered: {len(result.problems)} problem(s) in {result.entries} entries "
          f"(first: {_one_line(result.problems[0])})", file=sys.stderr)
    return EXIT_USAGE


@_one_line_command
def cmd_registry_list(args: argparse.Namespace) -> int:
    from fakescope.provenance.registry import list_entries

    db = _db(args)
    entries = list_entries(db)
    if not entries:
        print(f"no entries in {_one_line(db)}")
    for e in entries:
        print(f"{e.seq:>5}  {e.entry_id}  {e.added_at}  {e.fingerprint.duration_s:7.1f} s  {_one_line(e.label)}  "
              f"({_one_line(e.file_name)})")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    reg = group(sub, "registry", "provenance registry of authentic originals")
    ra = reg.add_parser("add", help="fingerprint authentic videos and append them to the registry; prints the new head")
    ra.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or directories of videos")
    ra.add_argument("--label", metavar="TEXT", help="label stored with each entry (default: the file's stem)")
    ra.add_argument("--registry", metavar="DB", help="registry database (default: per-user, $FAKESCOPE_REGISTRY)")
    ra.add_argument("--quiet", action="store_true")
    ra.set_defaults(func=cmd_registry_add)
    rv = reg.add_parser("verify", help="check the hash chain (edits, deletions, reordering) and print its head; "
                                       "with --expect-head also truncation and a replaced database")
    rv.add_argument("--registry", metavar="DB")
    rv.add_argument("--expect-head", metavar="HASH",
                    help="head recorded outside the registry (printed by `registry add`/`verify`): "
                         "any other head fails the check")
    rv.set_defaults(func=cmd_registry_verify)
    rl = reg.add_parser("list", help="list registered originals")
    rl.add_argument("--registry", metavar="DB")
    rl.set_defaults(func=cmd_registry_list)
