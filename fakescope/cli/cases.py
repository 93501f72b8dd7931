"""`fakescope cases list`: the case log of past scans."""

from __future__ import annotations

import argparse
from pathlib import Path

from fakescope.cli.common import EXIT_OK, group


def cmd_cases_list(args: argparse.Namespace) -> int:
    from fakescope.scan.caselog import default_db_path, list_cases

    db = Path(args.db) if args.db else default_db_path()
    rows = list_cases(db, args.limit)
    if not rows:
        print(f"no cases in {db}")
        return EXIT_OK
    print(f"{'id':>5}  {'scanned (UTC)':19}  {'verdict':12}  {'P(fake)':>7}  {'sha256':12}  file")
    for c in rows:
        print(f"{c.id:>5}  {c.scanned_at[:19]:19}  {c.verdict:12}  {c.fake_probability:7.3f}  {c.sha256[:12]}  {c.file}"
              + (f"  (report: {c.report_path})" if c.report_path else ""))
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    cases = group(sub, "cases", "the case log of past scans")
    cl = cases.add_parser("list", help="list past scans, newest first")
    cl.add_argument("--db", metavar="DB")
    cl.add_argument("--limit", type=int, default=50)
    cl.set_defaults(func=cmd_cases_list)
