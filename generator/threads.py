"""Torch thread count for training and rendering on a small, shared CPU.

Why this exists: on the 2-core development machine, with other processes busy, a 2-thread
OpenMP op waits at its barrier for the descheduled second thread, and small ops become 3-40x
slower than on one thread (measured: quick-preset inference 297 ms/face at 2 threads vs 12.7 ms
at 1; training 0.55 vs 1.6 it/s). On an idle machine 2 threads win. So the thread count is
chosen by measurement, scoped to the call, and the caller's setting is restored afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from statistics import median
from typing import TypeVar

import torch

T = TypeVar("T")


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` intra-op threads inside the block (None: leave torch's setting alone)."""
    if n is None:
        yield
        return
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class ThreadTuner:
    """Runs a repeated workload and periodically re-picks the fastest thread count.

    A probe times ``probe_steps`` real steps with the current count, then with each other
    candidate (the probes are ordinary steps: no work is wasted). A candidate whose step takes
    more than ``give_up`` times the current median is dropped at once, because on a busy machine
    a 2-thread step can take seconds. Probes repeat after ``every_s``, doubling up to
    ``max_every_s`` while the choice stays the same, so a run adapts when other jobs start or
    stop without paying for frequent probes.
    """

    def __init__(
        self,
        candidates: list[int] | None = None,
        every_s: float = 120.0,
        probe_steps: int = 3,
        max_every_s: float = 960.0,
        give_up: float = 3.0,
    ) -> None:
        default = torch.get_num_threads()
        self.candidates = sorted(set(candidates or [default, 1]), reverse=True)
        self.every_s = every_s
        self.interval = every_s
        self.max_every_s = max_every_s
        self.probe_steps = probe_steps
        self.give_up = give_up
        self.current = self.candidates[0]
        self._next_probe = 0.0
        self._queue: list[int] = []
        self._times: dict[int, list[float]] = {}
        self.history: list[tuple[float, int]] = []  # (unix time, chosen threads) after each probe

    def _start_probe(self) -> None:
        others = [c for c in self.candidates if c != self.current]
        self._queue = [self.current] * self.probe_steps + [c for c in others for _ in range(self.probe_steps)]
        self._times = {c: [] for c in self.candidates}

    def run(self, step: Callable[[], T]) -> T:
        """Run one ``step`` with the thread count currently chosen (or being probed)."""
        if not self._queue and time.monotonic() >= self._next_probe and len(self.candidates) > 1:
            self._start_probe()
        probing = bool(self._queue)
        threads = self._queue.pop(0) if probing else self.current
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        t0 = time.perf_counter()
        out = step()
        if probing:
            dt = time.perf_counter() - t0
            self._times[threads].append(dt)
            base = self._times[self.current]
            if threads != self.current and base and dt > self.give_up * median(base):
                self._queue = [c for c in self._queue if c != threads]
            if not self._queue:
                self._finish_probe()
        return out

    def _finish_probe(self) -> None:
        # The median ignores the first step after a switch, which pays for re-warming.
        timed = {c: median(t) for c, t in self._times.items() if t}
        best = min(timed, key=timed.__getitem__)
        self.interval = min(self.interval * 2, self.max_every_s) if best == self.current else self.every_s
        self.current = best
        self._next_probe = time.monotonic() + self.interval
        self.history.append((time.time(), best))
