"""Command line entry point ``fakescope`` (contract: ../shared/DESIGN.md).

Exit codes: 0 success (any verdict), 2 unusable input or arguments with one plain line on stderr,
1 internal error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        print(f"fakescope: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _err(path: object, reason: str) -> None:
    print(f"fakescope: error: {path}: {reason}", file=sys.stderr)


def _scan_one(path: Path, config) -> tuple[str, object | None, str | None, bool]:  # noqa: ANN001
    """Returns (path, ScanResult, error line, internal?) so worker processes never raise across the pool."""
    from fakescope.core.errors import UnusableInputError
    from fakescope.scan.pipeline import scan_video

    try:
        return str(path), scan_video(path, config), None, False
    except UnusableInputError as exc:
        return str(path), None, exc.reason, False
    except Exception as exc:  # noqa: BLE001 - reported as an internal error for this file only
        return str(path), None, f"internal error: {exc.__class__.__name__}: {exc}", True


def _ray_address_or_video(args: argparse.Namespace) -> None:
    """`--ray` takes an optional ADDRESS, so in `scan --ray clips/` argparse hands it the first video.
    An address is `local`, `auto` or has a colon (host:port, ray://...) and is not an existing path;
    anything else goes back to the videos and the cluster is a local one."""
    value = args.ray
    if value is None or value == "local":
        return
    if Path(value).exists() or not (value == "auto" or ":" in value):
        args.videos = [value, *args.videos]
        args.ray = "local"


def cmd_scan(args: argparse.Namespace) -> int:
    from fakescope.scan.pipeline import ScanConfig

    _ray_address_or_video(args)
    if not args.videos:
        args.parser.error("the following arguments are required: VIDEO")

    if args.detector:
        try:
            from detector.io import load_model

            load_model(args.detector)
        except ValueError as exc:
            _err(args.detector, f"unusable detector: {exc}")
            return EXIT_USAGE
    if args.registry:
        from fakescope.provenance.registry import registry_head

        try:
            registry_head(Path(args.registry))
        except (ValueError, FileNotFoundError) as exc:
            print(f"fakescope: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    from fakescope.core.video import expand_video_inputs

    paths = expand_video_inputs(args.videos)
    if not paths:
        _err(" ".join(args.videos), "no video files found")
        return EXIT_USAGE
    config = ScanConfig(detector=args.detector or "default", registry=Path(args.registry) if args.registry else None,
                        progress=not args.quiet and sys.stderr.isatty())
    db = Path(args.db) if args.db else None
    args.several = len(paths) > 1  # a JSON list even when --resume leaves one video to scan
    if args.ray is not None:
        return _scan_on_ray(args, paths, config, db)
    if args.resume:
        from fakescope.scan.analyzers import build_analyzers
        from fakescope.scan.ray import analyzer_versions

        paths = _skip_logged(paths, analyzer_versions(build_analyzers(config)[0]), db)
    jobs = args.jobs or 1
    if jobs > 1 and len(paths) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a forked child inherits torch/OpenMP thread pools mid-flight and can hang.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            return _handle_outcomes(args, paths, pool.map(_scan_one, paths, [config] * len(paths)), db)
    return _handle_outcomes(args, paths, (_scan_one(p, config) for p in paths), db)


def _scan_on_ray(args: argparse.Namespace, paths: list[Path], config, db: Path | None) -> int:  # noqa: ANN001
    """`scan --ray`: the same outcomes as a local scan, computed by actors on a Ray cluster."""
    from fakescope.scan.ray import DEFAULT_WORKERS, LOCAL, RayOptions, RayScanner

    opts = RayOptions(address=args.ray, workers=args.jobs or DEFAULT_WORKERS, retries=args.retries)
    config = replace(config, progress=False)  # workers have no terminal; the driver prints a line per video
    with ExitStack() as stack:  # Ray is shut down however the scan ends
        try:
            scanner = stack.enter_context(RayScanner(config, opts))
        except ConnectionError as exc:
            _err(f"--ray {args.ray}", f"cannot reach the Ray cluster: {exc}")
            return EXIT_USAGE
        except RuntimeError as exc:
            _err(f"--ray {args.ray}", str(exc))
            return EXIT_INTERNAL
        if args.resume:
            paths = _skip_logged(paths, scanner.versions(), db)
        where = f"a local Ray instance ({opts.workers} workers)" if opts.address == LOCAL else f"Ray at {opts.address}"
        if not args.quiet and paths:
            print(f"fakescope: scanning {len(paths)} videos on {where}", file=sys.stderr)
        return _handle_outcomes(args, paths, scanner.scan(paths), db)


def _skip_logged(paths: list[Path], versions: dict, db: Path | None) -> list[Path]:
    """Videos not yet in the case log with these versions; the others are named and left out."""
    from fakescope.core.hashing import sha256_file
    from fakescope.scan.caselog import find_case

    todo = []
    for p in paths:
        try:
            case = find_case(sha256_file(p), versions, db)
        except OSError:
            case = None  # unreadable: the scan reports it like any unusable input
        if case is None:
            todo.append(p)
        else:
            print(f"{p}: skipped, already scanned with these models (case {case.id}: {case.verdict}, "
                  f"P(fake)={case.fake_probability:.3f})")
    return todo


def _handle_outcomes(args: argparse.Namespace, paths: list[Path],
                     outcomes: Iterable[tuple[str, object | None, str | None, bool]], db: Path | None) -> int:
    """Shared tail of local and Ray scans: a line per video as it finishes, its case appended at once
    (an interrupted run keeps what it finished, so `--resume` can skip it), then the JSON and the
    report in input order."""
    report = Path(args.report) if args.report else None
    order = {str(p): i for i, p in enumerate(paths)}
    done: list[tuple[int, object]] = []
    unusable = internal_error = False
    for path, result, error, internal in outcomes:
        if error is not None or result is None:
            _err(path, error or "no result")
            internal_error |= internal
            unusable |= not internal
            continue
        record = result.record  # type: ignore[attr-defined]
        done.append((order.get(path, len(order)), result))
        print(f"{path}: {record['verdict']} (P(fake)={record['fake_probability']:.3f}, "
              f"{record['faces']['frames_with_face']}/{record['video']['frames']} frames with a face, "
              f"{record['timing']['seconds']:.1f} s)", flush=True)
        if not args.no_log:
            from fakescope.scan.caselog import append_case

            append_case(record, db, report)
    scanned = [r for _, r in sorted(done, key=lambda t: t[0])]
    records = [r.record for r in scanned]  # type: ignore[attr-defined]
    if args.json and records:
        from fakescope.core.atomicio import write_json_atomic

        write_json_atomic(args.json, records if getattr(args, "several", len(paths) > 1) else records[0])
    if report is not None and scanned:
        from fakescope.report.scan_report import write_scan_report

        write_scan_report(scanned, report)
    return EXIT_INTERNAL if internal_error else EXIT_USAGE if unusable else EXIT_OK


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


def cmd_audit(args: argparse.Namespace) -> int:
    from fakescope.audit.run import load_items, run_audit
    from fakescope.audit.scorers import build_scorers

    items, errors = load_items(args.data)
    for err in errors:
        print(f"fakescope: skipped {err}", file=sys.stderr)
    if not items:
        raise ValueError("no usable rows to audit: every row was skipped (see above)")
    scorers = build_scorers(args.detector or ["default"], include_analyzers=not args.detectors_only)
    result = run_audit(items, scorers, Path(args.out), n_boot=args.n_boot, progress=not args.quiet,
                       row_errors=errors, sources=args.data)
    print(f"audit of {len(items)} videos written to {result.metrics_path} and {result.report_path}")
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess

    from fakescope.core.paths import env_max_upload_mb

    # the app is found, not imported: the CLI sits below the UI and `streamlit run` executes it
    spec = importlib.util.find_spec("dashboards.app")
    if spec is None or spec.origin is None:
        raise ValueError("the dashboard is not installed (the dashboards package is missing)")
    cmd = [sys.executable, "-m", "streamlit", "run", spec.origin, "--server.port", str(args.port),
           "--server.maxUploadSize", str(env_max_upload_mb()), "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal"]
    return subprocess.call(cmd)


def cmd_testset_build(args: argparse.Namespace) -> int:
    from generator.testset import TestsetConfig, build_testset

    if args.attack and not args.detector:
        raise ValueError("--attack needs --detector NAME_OR_DIR (the detector to attack)")
    cfg = TestsetConfig(seed=args.seed, runs=tuple(args.run or ()), attack=args.attack, attack_detector=args.detector,
                        segments_per_video=args.segments, clip_frames=args.frames)
    target = None
    if args.attack:
        from detector.io import load_model

        target = load_model(args.detector).attack_target()
    manifest = build_testset(args.real, Path(args.out), cfg, progress=not args.quiet, attack_target=target)
    print(f"manifest: {manifest}")
    return EXIT_OK


def cmd_testset_photos(args: argparse.Namespace) -> int:
    from generator.photoreals import build_photo_reals

    manifest = build_photo_reals(args.faces, Path(args.out), progress=not args.quiet)
    print(f"manifest: {manifest}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from fakescope import __version__

    parser = _Parser(prog="fakescope", description="Deepfake detection and forensics suite.")
    parser.add_argument("--version", action="version", version=f"fakescope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    scan = sub.add_parser("scan", help="analyse videos and give a verdict for each")
    # "*" not "+": `scan --ray a.mp4` must reach cmd_scan, which tells an address from a video.
    scan.add_argument("videos", nargs="*", metavar="VIDEO", help="video files or directories of videos")
    scan.add_argument("--json", metavar="OUT.json", help="write the verdict JSON (a list when several videos)")
    scan.add_argument("--report", metavar="OUT.html", help="write a self-contained HTML report")
    scan.add_argument("--detector", metavar="NAME_OR_DIR", help="detector name from `fakescope detector list` or a model dir")
    scan.add_argument("--registry", metavar="DB", help="provenance registry of authentic originals")
    scan.add_argument("--jobs", type=int, default=None, metavar="N",
                      help="videos analysed in parallel (default 1; with --ray: Ray workers, default 2)")
    scan.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                      help="distribute the videos over a Ray cluster at ADDRESS (e.g. auto, ray://host:10001);"
                           " alone, start a local one (needs the `scale` extra)")
    scan.add_argument("--retries", type=int, default=2, metavar="N",
                      help="with --ray: extra attempts for a video whose worker crashed or failed internally")
    scan.add_argument("--resume", action="store_true",
                      help="skip videos already in the case log with the same fakescope and model versions")
    scan.add_argument("--quiet", action="store_true", help="no progress bar")
    scan.add_argument("--db", metavar="DB", help="case log database (default: per-user, see `cases list`)")
    scan.add_argument("--no-log", action="store_true", help="do not append this scan to the case log")
    scan.set_defaults(func=cmd_scan, parser=scan)

    cases = sub.add_parser("cases", help="the case log of past scans").add_subparsers(
        dest="cases_command", required=True, parser_class=_Parser)
    cl = cases.add_parser("list", help="list past scans, newest first")
    cl.add_argument("--db", metavar="DB")
    cl.add_argument("--limit", type=int, default=50)
    cl.set_defaults(func=cmd_cases_list)

    au = sub.add_parser("audit", help="measure how accurate detectors and analyzers really are")
    au.add_argument("--data", nargs="+", required=True, metavar="TESTSET_DIR_OR_MANIFEST")
    au.add_argument("--detector", action="append", metavar="NAME", help="registry name or model dir (repeatable)")
    au.add_argument("--out", required=True, metavar="DIR")
    au.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    au.add_argument("--detectors-only", action="store_true", help="skip blink/edges/spectrum and the fused verdict")
    au.add_argument("--quiet", action="store_true")
    au.set_defaults(func=cmd_audit)

    dash = sub.add_parser("dashboard", help="start the Streamlit dashboard")
    dash.add_argument("--port", type=int, default=8501)
    dash.set_defaults(func=cmd_dashboard)

    testset = sub.add_parser("testset", help="build adversarial test sets").add_subparsers(
        dest="testset_command", required=True, parser_class=_Parser)
    tb = testset.add_parser("build", help="build a test set from real videos")
    tb.add_argument("--real", nargs="+", required=True, metavar="VIDEO_OR_DIR")
    tb.add_argument("--out", required=True, metavar="DIR")
    tb.add_argument("--seed", type=int, default=0)
    tb.add_argument("--run", action="append", metavar="RUN_DIR",
                    help="generator run for ae_swap / ae_gan_swap fakes (repeatable)")
    tb.add_argument("--attack", choices=["fgsm", "pgd"])
    tb.add_argument("--detector", metavar="NAME", help="detector attacked by --attack")
    tb.add_argument("--segments", type=int, default=3, help="segments cut from each real video")
    tb.add_argument("--frames", type=int, default=48, help="frames per item")
    tb.add_argument("--quiet", action="store_true")
    tb.set_defaults(func=cmd_testset_build)
    tp = testset.add_parser("photos", help="extra real identities from still photos (train split only; for --sbi)")
    tp.add_argument("--faces", nargs="+", required=True, metavar="DIR",
                    help="folders of face photos whose people appear in none of the test set's videos")
    tp.add_argument("--out", required=True, metavar="DIR")
    tp.add_argument("--quiet", action="store_true")
    tp.set_defaults(func=cmd_testset_photos)

    from fakescope.cli import models as cli_models
    from fakescope.cli import registry as cli_registry

    cli_models.register(sub, _Parser)
    cli_registry.register(sub, _Parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import os

    # OpenMP's default busy-wait makes 2 torch threads up to 20x slower when the 2 cores are shared
    # (measured, see benchmarks/detector_speed.py); it is read once, before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that re-launch themselves (torchrun)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("fakescope: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as exc:
        print(f"fakescope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

