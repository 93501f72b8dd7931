"""Scan many videos on a Ray cluster (``fakescope scan --ray [ADDRESS]``).

Ray does the scheduling, the worker processes and the fault tolerance; this module only says what
a worker is and hands each one a video at a time:

* one actor per worker builds the analyzers once (the CNN, the dlib models, the edge model are
  loaded once per worker, not once per video) and reuses them: every analyzer's ``start()`` resets
  its per-video state;
* an actor that dies mid-video (segfault, OOM kill, a lost node) is restarted by Ray and the video
  retried on it (``max_restarts`` / ``max_task_retries``); a Python error inside the scan is retried
  the same bounded number of times (``retry_exceptions``). A video that still fails is reported, never
  dropped. An unusable input (a corrupt or truncated file) is an answer, not a failure: it is
  returned at once and never retried;
* each actor has at most one video in flight, so a file that keeps killing its worker uses up only
  its own retries, not those of videos queued behind it.

Results come back in completion order as the same ``(path, ScanResult | None, error, internal?)``
outcomes the local scan produces, so the CLI writes the JSON, the report and the case log the same
way for both. Videos must be readable at the same path on every node (shared storage) when a
remote cluster is used.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope import __version__
from fakescope.scan.pipeline import ScanConfig, ScanResult

# (path, result, error line, internal?) -- the tuple fakescope.cli._scan_one returns.
Outcome = tuple[str, ScanResult | None, str | None, bool]
# What a worker runs per video; a parameter so tests can inject faults into real worker processes.
ScanFn = Callable[[str, ScanConfig, list, dict], ScanResult]

LOCAL = "local"
DEFAULT_WORKERS = 2


def install_hint() -> str:
    return "Ray is not installed; install the optional extra with `pip install -e .[scale]` (or `pip install ray`)"


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def analyzer_versions(analyzers: Iterable[object]) -> dict[str, Any]:
    """The ``versions`` object a scan with these analyzers writes (fakescope.scan.pipeline builds the same)."""
    models: dict[str, str] = {}
    for a in analyzers:
        models.update(a.model_hashes)
    return {"fakescope": __version__, "models": models}


def _default_scan(path: str, config: ScanConfig, analyzers: list, skipped: dict) -> ScanResult:
    from fakescope.scan.pipeline import scan_video

    return scan_video(path, config, analyzers=analyzers, skipped=skipped)


class ScanWorker:
    """Body of the Ray actor: analyzers built once in ``__init__``, one ``scan`` call per video."""

    def __init__(self, config: ScanConfig, scan_fn: ScanFn | None = None) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see fakescope.cli.main
        import torch

        torch.set_num_threads(1)  # one CPU per actor: Ray schedules the parallelism, not OpenMP
        from fakescope.scan.analyzers import build_analyzers

        self.config = config
        self.scan_fn = scan_fn or _default_scan
        names = list(config.analyzers) if config.analyzers else None
        self.analyzers, self.skipped = build_analyzers(config, names)

    def versions(self) -> dict[str, Any]:
        return analyzer_versions(self.analyzers)

    def scan(self, path: str) -> Outcome:
        """Unusable input is returned; any other exception propagates so Ray retries it."""
        from fakescope.core.errors import UnusableInputError

        try:
            return path, self.scan_fn(path, self.config, self.analyzers, self.skipped), None, False
        except UnusableInputError as exc:
            return path, None, exc.reason, False


@dataclass(frozen=True)
class RayOptions:
    address: str = LOCAL  # "local": start a private local cluster; else a Ray address ("auto", "ray://h:10001")
    workers: int = DEFAULT_WORKERS
    retries: int = 2  # extra attempts per video after a worker crash or internal error

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"the number of Ray workers must be >= 1, got {self.workers}")
        if self.retries < 0:
            raise ValueError(f"--retries must be >= 0, got {self.retries}")


class RayScanner:
    """A pool of scan actors on a Ray cluster; use as a context manager so Ray is always shut down.

    >>> with RayScanner(ScanConfig(progress=False), RayOptions(workers=2)) as rs:  # doctest: +SKIP
    ...     for path, result, error, internal in rs.scan(paths): ...
    """

    def __init__(self, config: ScanConfig, options: RayOptions | None = None, scan_fn: ScanFn | None = None) -> None:
        self.config = config
        self.options = options or RayOptions()
        self.scan_fn = scan_fn
        self._actors: list[Any] = []
        self._started_ray = False
        self._versions: dict[str, Any] | None = None

    def __enter__(self) -> RayScanner:
        try:
            import ray
        except ImportError as exc:
            raise ValueError(install_hint()) from exc
        opts = self.options
        if not ray.is_initialized():
            quiet: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                                         configure_logging=True)
            env = {"env_vars": {"OMP_WAIT_POLICY": "PASSIVE", "RAY_DEDUP_LOGS": "0"}}
            if opts.address == LOCAL:
                # A private cluster sized to the workers asked for; a small object store, since
                # results are a few kB of JSON and a handful of report thumbnails per video.
                ray.init(num_cpus=opts.workers, object_store_memory=128 * 2**20, runtime_env=env, **quiet)
            else:
                quiet.pop("include_dashboard")  # a property of the cluster, not of a connecting driver
                ray.init(address=opts.address, runtime_env=env, **quiet)
            self._started_ray = True
        try:
            self._start_actors(ray)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start_actors(self, ray: Any) -> None:
        from ray.exceptions import RayActorError, RayTaskError

        retries = self.options.retries
        actor_cls = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=retries)(ScanWorker)
        self._actors = [actor_cls.remote(self.config, self.scan_fn) for _ in range(self.options.workers)]
        try:
            versions = ray.get([a.versions.remote() for a in self._actors])
        except (RayActorError, RayTaskError) as exc:
            raise RuntimeError(f"the Ray scan workers could not start: {_cause(exc)}") from exc
        self._versions = versions[0]

    def __exit__(self, *exc: object) -> None:
        import ray

        for a in self._actors:
            ray.kill(a, no_restart=True)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def versions(self) -> dict[str, Any]:
        """Versions the workers' records will carry (for skipping videos already in the case log)."""
        if self._versions is None:
            raise RuntimeError("RayScanner.versions() needs the scanner started: use it in a `with` block")
        return self._versions

    def scan(self, paths: Iterable[str | Path]) -> Iterator[Outcome]:
        """Scan ``paths`` over the actors; yields one outcome per path as soon as it is known."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        if not self._actors:
            raise RuntimeError("RayScanner.scan() needs the scanner started: use it in a `with` block")
        attempts = self.options.retries + 1
        queue = deque(str(p) for p in paths)
        idle = list(self._actors)
        inflight: dict[Any, tuple[Any, str]] = {}
        while queue or inflight:
            while queue and idle:
                actor, path = idle.pop(), queue.popleft()
                ref = actor.scan.options(retry_exceptions=True, max_task_retries=self.options.retries).remote(path)
                inflight[ref] = (actor, path)
            (ref,), _ = ray.wait(list(inflight), num_returns=1)
            actor, path = inflight.pop(ref)
            idle.append(actor)
            try:
                yield ray.get(ref)
            except RayActorError as exc:
                yield path, None, f"internal error: the scan worker died on each of {attempts} attempts ({_cause(exc)})", True
            except RayTaskError as exc:
                yield path, None, f"internal error after {attempts} attempts: {_cause(exc)}", True


def _cause(exc: BaseException) -> str:
    """One line for a Ray error: the original exception when there is one, never a traceback."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{cause.__class__.__name__}: {cause}".splitlines()[0]
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
