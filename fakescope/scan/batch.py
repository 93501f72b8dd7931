"""Scanning many videos: one outcome per video, in parallel or not, and the outputs of a batch.

The CLI (`fakescope scan`, local processes or Ray) and the dashboard both finish a scan here, so a
verdict is logged, written as JSON and rendered as a report the same way whoever asked for it.

A batch never loses finished work: every video ends as an Outcome (a result or a reason), the JSON
is rewritten atomically after each verdict, a case log that cannot be written degrades to one
warning, a worker process that dies (killed, out of memory) costs only the videos it held (each is
retried once, alone, in a fresh worker), and workers die with their parent.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope.core.errors import UnusableInputError
from fakescope.scan.pipeline import ScanConfig, ScanResult, scan_video

# (path, result, error line, internal?): what every way of scanning yields per video. A plain tuple
# because it crosses process boundaries (multiprocessing, Ray) and must pickle cheaply.
Outcome = tuple[str, ScanResult | None, str | None, bool]

WORKER_MEMORY_BYTES = 900 * 1024**2  # one scan worker's resident set (models + a 720p frame pipeline), measured
WORKER_DIED = "the worker process scanning it died twice (killed, or out of memory); not retried again"


def scan_one(path: str | Path, config: ScanConfig) -> Outcome:
    """Scan one video and never raise: unusable input and internal errors become the outcome's reason."""
    try:
        return str(path), scan_video(path, config), None, False
    except UnusableInputError as exc:
        return str(path), None, exc.reason, False
    except Exception as exc:  # noqa: BLE001 - reported as an internal error for this file only
        return str(path), None, f"internal error: {exc.__class__.__name__}: {exc}", True


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def worker_budget(requested: int) -> tuple[int, str | None]:
    """How many scan processes this machine can hold: at most its cores and what free memory allows.

    Returns (jobs, why it is fewer than requested or None)."""
    if requested < 1:
        raise ValueError(f"--jobs must be at least 1, got {requested}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    free = _available_memory()
    by_memory = max(1, free // WORKER_MEMORY_BYTES) if free is not None else requested
    jobs = max(1, min(requested, cores, by_memory))
    if jobs == requested:
        return jobs, None
    limits = [f"{cores} cores"] + ([f"{free / 2**30:.1f} GiB free at about "
                                    f"{WORKER_MEMORY_BYTES / 2**30:.1f} GiB per worker"] if free is not None else [])
    return jobs, f"--jobs {requested} lowered to {jobs} ({', '.join(limits)})"


def _die_with_parent() -> None:
    """Worker initializer: the kernel kills this worker when the process that started it dies, so a
    killed or crashed parent never leaves workers scanning on their own (Linux; elsewhere a no-op)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before the call above
            os._exit(1)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


class _Pool:
    """A spawn process pool whose workers die with the parent and are terminated on exit."""

    def __init__(self, workers: int) -> None:
        # spawn, not fork: a forked child inherits torch/OpenMP thread pools mid-flight and can hang.
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_die_with_parent)

    def __enter__(self) -> ProcessPoolExecutor:
        return self.pool

    def __exit__(self, *exc: object) -> None:
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=exc[0] is None, cancel_futures=True)
        for p in procs:  # an interrupted batch stops its workers now, not after their current video
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)


ScanFn = Callable[[str | Path, ScanConfig], Outcome]


def scan_local(paths: Sequence[Path], config: ScanConfig, jobs: int = 1,
               scan_fn: ScanFn = scan_one) -> Iterator[Outcome]:
    """Outcomes of scanning ``paths`` on this machine, in ``jobs`` processes (completion order).

    jobs=1 scans in this process, in input order. With processes, at most ``jobs`` videos are handed
    out at a time, so when a worker dies exactly the videos in flight are suspects: each is retried
    once, alone, in a fresh worker, and reported (WORKER_DIED) if that one dies too, while the
    queue goes on in a fresh pool. ``scan_fn`` (picklable) lets tests inject faults into real workers."""
    if jobs <= 1 or len(paths) <= 1:
        for p in paths:
            yield scan_fn(p, config)
        return
    queue = list(paths)
    suspects: list[Path] = []
    idle_pools = 0  # pools that broke before taking any video: workers cannot start at all
    while queue:
        if idle_pools >= 3:
            for p in queue:
                yield str(p), None, "internal error: scan worker processes cannot be started", True
            return
        with _Pool(jobs) as pool:
            in_flight: dict[Future, Path] = {}
            broken = False
            before = len(queue)
            while (queue or in_flight) and not broken:
                while queue and len(in_flight) < jobs:
                    try:
                        f = pool.submit(scan_fn, queue[0], config)
                    except BrokenProcessPool:  # a worker died since the last wait: queue[0] never ran
                        broken = True
                        break
                    in_flight[f] = queue.pop(0)
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for f in done:
                    p = in_flight.pop(f)
                    try:
                        yield f.result()
                    except BrokenProcessPool:
                        suspects.append(p)
                        broken = True
            for f, p in in_flight.items():  # the pool is gone: what it held finished or is suspect
                try:
                    yield f.result(timeout=10)
                except (BrokenProcessPool, TimeoutError):
                    suspects.append(p)
        idle_pools = idle_pools + 1 if len(queue) == before and not suspects else 0
        for p in suspects:  # one at a time, so a video that kills its worker cannot take another with it
            with _Pool(1) as lone:
                try:
                    yield lone.submit(scan_fn, p, config).result()
                except BrokenProcessPool:
                    yield str(p), None, WORKER_DIED, True
        suspects = []


@dataclass(frozen=True)
class SkippedCase:
    """A video left out of a resumed batch because the case log already holds its verdict."""

    path: Path
    case: Any  # fakescope.scan.caselog.Case


def split_logged(paths: Sequence[Path], versions: dict[str, Any],
                 db: Path | None) -> tuple[list[Path], list[SkippedCase]]:
    """(videos still to scan, videos already in the case log with these fakescope/model versions).

    A case log that cannot be read skips nothing (everything is scanned again)."""
    from fakescope.core.hashing import sha256_file
    from fakescope.scan.caselog import CaseLogError, find_case

    todo: list[Path] = []
    skipped: list[SkippedCase] = []
    for p in paths:
        try:
            case = find_case(sha256_file(p), versions, db)
        except (OSError, CaseLogError):
            case = None  # unreadable video: the scan reports it; unreadable log: scan again
        if case is None:
            todo.append(p)
        else:
            skipped.append(SkippedCase(p, case))
    return todo, skipped


@dataclass(frozen=True)
class BatchOutputs:
    """Where a batch's results go: the case log (None: the per-user default), JSON and HTML report."""

    db: Path | None = None
    log_cases: bool = True
    json_path: Path | None = None
    report_path: Path | None = None
    json_list: bool = False  # a JSON list even for one video (several were asked for)


@dataclass(frozen=True)
class BatchSummary:
    results: tuple[ScanResult, ...]  # in input order
    unusable: tuple[tuple[str, str], ...]  # (path, reason)
    internal: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = ()


def run_batch(paths: Sequence[Path], outcomes: Iterable[Outcome], outputs: BatchOutputs,
              on_outcome: Callable[[Outcome], None] | None = None,
              on_warning: Callable[[str], None] | None = None) -> BatchSummary:
    """Consume outcomes as they finish. Each verdict is logged and the JSON rewritten at once (an
    interrupted batch keeps what it finished, and a resume skips it); the report is written last,
    also when the batch is interrupted. A case log that fails is one warning, not a lost batch."""
    order = {str(p): i for i, p in enumerate(paths)}
    done: list[tuple[int, ScanResult]] = []
    unusable: list[tuple[str, str]] = []
    internal: list[tuple[str, str]] = []
    warnings: list[str] = []
    log_cases = outputs.log_cases

    def warn(text: str) -> None:
        warnings.append(text)
        if on_warning is not None:
            on_warning(text)

    def ordered() -> list[ScanResult]:
        return [r for _, r in sorted(done, key=lambda t: t[0])]

    try:
        for outcome in outcomes:
            path, result, error, is_internal = outcome
            if on_outcome is not None:
                on_outcome(outcome)
            if error is not None or result is None:
                (internal if is_internal else unusable).append((path, error or "no result"))
                continue
            done.append((order.get(path, len(order)), result))
            if log_cases:
                from fakescope.scan.caselog import CaseLogError, append_case

                try:
                    append_case(result.record, outputs.db, outputs.report_path)
                except CaseLogError as exc:
                    log_cases = False  # one warning, then the batch goes on without the log
                    warn(f"{exc}; verdicts are still printed and written, but not logged")
            write_outputs(ordered(), outputs, report=False)
    finally:
        write_outputs(ordered(), outputs, json=False)
    return BatchSummary(tuple(ordered()), tuple(unusable), tuple(internal), tuple(warnings))


def write_outputs(results: Sequence[ScanResult], outputs: BatchOutputs, json: bool = True,
                  report: bool = True) -> None:
    """The verdict JSON (one object, or a list) and the HTML report of finished scans, atomically."""
    if not results:
        return
    if json and outputs.json_path is not None:
        from fakescope.core.atomicio import write_json_atomic

        records = [r.record for r in results]
        write_json_atomic(outputs.json_path, records if outputs.json_list or len(records) > 1 else records[0])
    if report and outputs.report_path is not None:
        from fakescope.report.scan_report import write_scan_report

        write_scan_report(list(results), outputs.report_path)
