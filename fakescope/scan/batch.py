"""Scanning many videos: one outcome per video, in parallel or not, and the outputs of a batch.

The CLI (`fakescope scan`, local processes or Ray) and the dashboard both finish a scan here, so a
verdict is logged, written as JSON and rendered as a report the same way whoever asked for it.
One bad file never stops the others: every video ends as an Outcome, with a result or a reason.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope.core.errors import UnusableInputError
from fakescope.scan.pipeline import ScanConfig, ScanResult, scan_video

# (path, result, error line, internal?): what every way of scanning yields per video. A plain tuple
# because it crosses process boundaries (multiprocessing, Ray) and must pickle cheaply.
Outcome = tuple[str, ScanResult | None, str | None, bool]


def scan_one(path: str | Path, config: ScanConfig) -> Outcome:
    """Scan one video and never raise: unusable input and internal errors become the outcome's reason."""
    try:
        return str(path), scan_video(path, config), None, False
    except UnusableInputError as exc:
        return str(path), None, exc.reason, False
    except Exception as exc:  # noqa: BLE001 - reported as an internal error for this file only
        return str(path), None, f"internal error: {exc.__class__.__name__}: {exc}", True


def scan_local(paths: Sequence[Path], config: ScanConfig, jobs: int = 1) -> Iterator[Outcome]:
    """Outcomes of scanning ``paths`` on this machine, in ``jobs`` processes (input order when jobs=1)."""
    if jobs > 1 and len(paths) > 1:
        # spawn, not fork: a forked child inherits torch/OpenMP thread pools mid-flight and can hang.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield from pool.map(scan_one, paths, [config] * len(paths))
        return
    for p in paths:
        yield scan_one(p, config)


@dataclass(frozen=True)
class SkippedCase:
    """A video left out of a resumed batch because the case log already holds its verdict."""

    path: Path
    case: Any  # fakescope.scan.caselog.Case


def split_logged(paths: Sequence[Path], versions: dict[str, Any],
                 db: Path | None) -> tuple[list[Path], list[SkippedCase]]:
    """(videos still to scan, videos already in the case log with these fakescope/model versions)."""
    from fakescope.core.hashing import sha256_file
    from fakescope.scan.caselog import find_case

    todo: list[Path] = []
    skipped: list[SkippedCase] = []
    for p in paths:
        try:
            case = find_case(sha256_file(p), versions, db)
        except OSError:
            case = None  # unreadable: the scan reports it like any unusable input
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


def run_batch(paths: Sequence[Path], outcomes: Iterable[Outcome], outputs: BatchOutputs,
              on_outcome: Callable[[Outcome], None] | None = None) -> BatchSummary:
    """Consume outcomes as they finish: each verdict is logged at once (an interrupted batch keeps what
    it finished, so a resume can skip it), then the JSON and the report are written in input order."""
    order = {str(p): i for i, p in enumerate(paths)}
    done: list[tuple[int, ScanResult]] = []
    unusable: list[tuple[str, str]] = []
    internal: list[tuple[str, str]] = []
    for outcome in outcomes:
        path, result, error, is_internal = outcome
        if on_outcome is not None:
            on_outcome(outcome)
        if error is not None or result is None:
            (internal if is_internal else unusable).append((path, error or "no result"))
            continue
        done.append((order.get(path, len(order)), result))
        if outputs.log_cases:
            from fakescope.scan.caselog import append_case

            append_case(result.record, outputs.db, outputs.report_path)
    results = tuple(r for _, r in sorted(done, key=lambda t: t[0]))
    write_outputs(results, outputs)
    return BatchSummary(results, tuple(unusable), tuple(internal))


def write_outputs(results: Sequence[ScanResult], outputs: BatchOutputs) -> None:
    """The verdict JSON (one object, or a list) and the HTML report of finished scans, atomically."""
    if not results:
        return
    if outputs.json_path is not None:
        from fakescope.core.atomicio import write_json_atomic

        records = [r.record for r in results]
        write_json_atomic(outputs.json_path, records if outputs.json_list or len(records) > 1 else records[0])
    if outputs.report_path is not None:
        from fakescope.report.scan_report import write_scan_report

        write_scan_report(list(results), outputs.report_path)
