"""`fakescope scan`: verdicts for videos, here or on a Ray cluster (orchestration: fakescope.scan.batch)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

from fakescope.cli.common import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, err, one_line, output_file
from fakescope.core.device import DEVICES


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
    from fakescope.scan.batch import BatchOutputs
    from fakescope.scan.pipeline import ScanConfig

    _ray_address_or_video(args)
    if not args.videos:
        args.parser.error("the following arguments are required: VIDEO")
    # every output is checked before any work: a batch must not run and then fail to save its results
    outputs = BatchOutputs(db=Path(args.db) if args.db else None, log_cases=not args.no_log,
                           json_path=output_file(args.json, "--json") if args.json else None,
                           report_path=output_file(args.report, "--report") if args.report else None)
    from fakescope.core.device import resolve_device

    resolve_device(args.device)  # --device cuda without CUDA: one line, before any work
    if args.detector:
        try:
            from fakescope.scan.models import load_detector

            load_detector(args.detector)
        except ValueError as exc:
            err(args.detector, f"unusable detector: {exc}")
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
        err(" ".join(args.videos), "no video files found")
        return EXIT_USAGE
    config = ScanConfig(detector=args.detector or "default", registry=Path(args.registry) if args.registry else None,
                        progress=not args.quiet and sys.stderr.isatty(), device=args.device)
    outputs = replace(outputs, json_list=len(paths) > 1)  # a list even when --resume leaves one video to scan
    if args.ray is not None:
        return _scan_on_ray(args, paths, config, outputs)
    from fakescope.scan.batch import scan_local, worker_budget

    jobs = 1
    if args.jobs is not None and len(paths) > 1:
        jobs, why = worker_budget(args.jobs)
        if why:
            print(f"fakescope: {why}", file=sys.stderr)
    if args.resume:
        from fakescope.scan.analyzers import build_analyzers
        from fakescope.scan.ray import analyzer_versions

        paths = _skip_logged(paths, analyzer_versions(build_analyzers(config)[0]), outputs.db)
    return _finish(paths, scan_local(paths, config, jobs), outputs)


def _scan_on_ray(args: argparse.Namespace, paths: list[Path], config, outputs) -> int:  # noqa: ANN001
    """`scan --ray`: the same outcomes as a local scan, computed by actors on a Ray cluster."""
    from fakescope.scan.ray import DEFAULT_WORKERS, LOCAL, RayOptions, RayScanner

    opts = RayOptions(address=args.ray, workers=args.jobs or DEFAULT_WORKERS, retries=args.retries)
    config = replace(config, progress=False)  # workers have no terminal; the driver prints a line per video
    with ExitStack() as stack:  # Ray is shut down however the scan ends
        try:
            scanner = stack.enter_context(RayScanner(config, opts))
        except ConnectionError as exc:
            err(f"--ray {args.ray}", f"cannot reach the Ray cluster: {exc}")
            return EXIT_USAGE
        except RuntimeError as exc:
            err(f"--ray {args.ray}", str(exc))
            return EXIT_INTERNAL
        if args.resume:
            paths = _skip_logged(paths, scanner.versions(), outputs.db)
        where = f"a local Ray instance ({opts.workers} workers)" if opts.address == LOCAL else f"Ray at {opts.address}"
        if not args.quiet and paths:
            print(f"fakescope: scanning {len(paths)} videos on {where}", file=sys.stderr)
        return _finish(paths, scanner.scan(paths), outputs)


def _skip_logged(paths: list[Path], versions: dict, db: Path | None) -> list[Path]:
    """Videos not yet in the case log with these versions; the others are named and left out."""
    from fakescope.scan.batch import split_logged

    todo, skipped = split_logged(paths, versions, db)
    for s in skipped:
        print(f"{one_line(s.path)}: skipped, already scanned with these models (case {s.case.id}: {s.case.verdict}, "
              f"P(fake)={s.case.fake_probability:.3f})")
    return todo


def _finish(paths: list[Path], outcomes, outputs) -> int:  # noqa: ANN001
    """A line per video as it finishes; the JSON after each verdict and the report at the end
    (fakescope.scan.batch.run_batch), also when the batch is interrupted."""
    from fakescope.scan.batch import run_batch

    def say(outcome) -> None:  # noqa: ANN001
        path, result, error, _ = outcome
        if error is not None or result is None:
            err(path, error or "no result")
            return
        record = result.record
        print(f"{one_line(path)}: {record['verdict']} (P(fake)={record['fake_probability']:.3f}, "
              f"{record['faces']['frames_with_face']}/{record['video']['frames']} frames with a face, "
              f"{record['faces'].get('frames_judged', 0)} judged, "
              f"{record['timing']['seconds']:.1f} s)", flush=True)

    def warn(text: str) -> None:
        print(f"fakescope: warning: {text}", file=sys.stderr, flush=True)

    with _terminate_as_interrupt():
        summary = run_batch(paths, outcomes, outputs, on_outcome=say, on_warning=warn)
    return EXIT_INTERNAL if summary.internal else EXIT_USAGE if summary.unusable else EXIT_OK


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: workers are stopped and finished verdicts are kept."""


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def register(sub: argparse._SubParsersAction) -> None:
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
    scan.add_argument("--device", choices=DEVICES, default="auto",
                      help="where the CNN runs (auto: CUDA when present, else the CPU)")
    scan.add_argument("--quiet", action="store_true", help="no progress bar")
    scan.add_argument("--db", metavar="DB", help="case log database (default: per-user, see `cases list`)")
    scan.add_argument("--no-log", action="store_true", help="do not append this scan to the case log")
    scan.set_defaults(func=cmd_scan, parser=scan)
