from __future__ import annotations

import time

import pytest
import torch

from generator.threads import ThreadTuner, torch_threads


def test_torch_threads_is_scoped() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match=">= 1"):
        with torch_threads(0):
            pass


def test_tuner_picks_the_faster_count_and_drops_hopeless_probes() -> None:
    before = torch.get_num_threads()
    try:
        tuner = ThreadTuner(candidates=[2, 1], every_s=1000, probe_steps=3)
        cost = {2: 0.02, 1: 0.002}  # pretend 2 threads stall, as on a busy machine
        seen = []

        def step() -> int:
            n = torch.get_num_threads()
            seen.append(n)
            time.sleep(cost[n])
            return n

        for _ in range(8):
            tuner.run(step)
        # Probe: 3 steps at the current count (2), then 1 at 1 thread ... which is faster, so
        # 1 thread is chosen; later steps use it.
        assert seen[:3] == [2, 2, 2] and tuner.current == 1 and seen[-1] == 1
        assert tuner.history and tuner.history[-1][1] == 1

        slow_other = ThreadTuner(candidates=[2, 1], every_s=1000, probe_steps=3)
        cost = {2: 0.002, 1: 0.05}
        seen.clear()
        for _ in range(6):
            slow_other.run(step)
        assert seen[:4] == [2, 2, 2, 1] and seen[4:] == [2, 2]  # 1 thread given up after one slow step
        assert slow_other.current == 2
    finally:
        torch.set_num_threads(before)
