"""`fakescope audit`: how accurate detectors and analyzers really are, on labelled videos."""

from __future__ import annotations

import argparse
import sys

from fakescope.cli.common import EXIT_OK, output_dir


def cmd_audit(args: argparse.Namespace) -> int:
    from fakescope.audit.run import load_items, run_audit
    from fakescope.audit.scorers import build_scorers
    from fakescope.scan.models import load_detector

    out = output_dir(args.out, "--out")  # checked before any video is scanned
    for name in args.detector or ["default"]:
        try:
            load_detector(name)
        except ValueError as exc:
            raise ValueError(f"{name}: unusable detector: {exc}") from None
    items, errors = load_items(args.data)
    for e in errors:  # notes (a repeated row counted once) are not skipped rows
        print(f"fakescope: {'note:' if e.severity == 'note' else 'skipped'} {e}", file=sys.stderr)
    if not items:
        raise ValueError("no usable rows to audit: every row was skipped (see above)")
    scorers = build_scorers(args.detector or ["default"], include_analyzers=not args.detectors_only)
    result = run_audit(items, scorers, out, n_boot=args.n_boot, progress=not args.quiet,
                       row_errors=errors, sources=args.data)
    print(f"audit of {len(items)} videos written to {result.metrics_path} and {result.report_path}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    au = sub.add_parser("audit", help="measure how accurate detectors and analyzers really are")
    au.add_argument("--data", nargs="+", required=True, metavar="TESTSET_DIR_OR_MANIFEST")
    au.add_argument("--detector", action="append", metavar="NAME", help="registry name or model dir (repeatable)")
    au.add_argument("--out", required=True, metavar="DIR")
    au.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    au.add_argument("--detectors-only", action="store_true", help="skip blink/edges/spectrum and the fused verdict")
    au.add_argument("--quiet", action="store_true")
    au.set_defaults(func=cmd_audit)
