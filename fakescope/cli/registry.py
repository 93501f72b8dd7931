"""Sub-commands of the provenance registry: `registry add`, `registry verify`, `registry list`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fakescope.cli.common import group


def _db(args: argparse.Namespace) -> Path:
    from fakescope.provenance.registry import default_registry_path

    return Path(args.registry) if args.registry else default_registry_path()


def cmd_registry_add(args: argparse.Namespace) -> int:
    from fakescope.core.errors import UnusableInputError
    from fakescope.core.video import expand_video_inputs
    from fakescope.provenance.analyzer import register_videos

    paths = expand_video_inputs(args.videos)
    if not paths:
        raise ValueError(f"{' '.join(args.videos)}: no video files found")
    db, unusable, internal = _db(args), False, False
    for p in paths:  # one bad file never stops the others
        try:
            [(_, entry, added)] = register_videos([p], db, args.label, progress=not args.quiet and sys.stderr.isatty())
        except UnusableInputError as exc:
            print(f"fakescope: error: {exc.path}: {exc.reason}", file=sys.stderr)
            unusable = True
            continue
        except ValueError:  # e.g. --registry names a file that is not a registry: stops every add (exit 2)
            raise
        except Exception as exc:  # noqa: BLE001 - reported for this file only
            print(f"fakescope: error: {p}: internal error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            internal = True
            continue
        state = "registered" if added else "already registered"
        print(f"{p}: {state} as entry {entry.seq} id {entry.entry_id} label {entry.label!r} "
              f"({len(entry.fingerprint)} samples, {entry.fingerprint.duration_s:.1f} s) in {db}")
    return 1 if internal else 2 if unusable else 0


def cmd_registry_verify(args: argparse.Namespace) -> int:
    from fakescope.provenance.registry import verify_registry

    db = _db(args)
    result = verify_registry(db)
    if result.ok:
        print(f"{db}: intact, {result.entries} entries, head {result.head}")
        return 0
    for problem in result.problems:
        print(f"{db}: {problem}")
    print(f"fakescope: error: {db}: tampered: {len(result.problems)} problem(s) in {result.entries} entries "
          f"(first: {result.problems[0]})", file=sys.stderr)
    return 2


def cmd_registry_list(args: argparse.Namespace) -> int:
    from fakescope.provenance.registry import list_entries

    db = _db(args)
    entries = list_entries(db)
    if not entries:
        print(f"no entries in {db}")
    for e in entries:
        print(f"{e.seq:>5}  {e.entry_id}  {e.added_at}  {e.fingerprint.duration_s:7.1f} s  {e.label}  ({e.file_name})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    reg = group(sub, "registry", "provenance registry of authentic originals")
    ra = reg.add_parser("add", help="fingerprint authentic videos and append them to the registry")
    ra.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or directories of videos")
    ra.add_argument("--label", metavar="TEXT", help="label stored with each entry (default: the file's stem)")
    ra.add_argument("--registry", metavar="DB", help="registry database (default: per-user, $FAKESCOPE_REGISTRY)")
    ra.add_argument("--quiet", action="store_true")
    ra.set_defaults(func=cmd_registry_add)
    rv = reg.add_parser("verify", help="check the hash chain: any edit, deletion or reordering is reported")
    rv.add_argument("--registry", metavar="DB")
    rv.set_defaults(func=cmd_registry_verify)
    rl = reg.add_parser("list", help="list registered originals")
    rl.add_argument("--registry", metavar="DB")
    rl.set_defaults(func=cmd_registry_list)
