from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from fakescope.core.checkpoint import (
    latest_checkpoint_dir,
    load_checkpoint,
    numpy_rng_state,
    optimizer_from_flat,
    optimizer_to_flat,
    restore_numpy_rng,
    save_checkpoint,
)
from generator.train import train_facesets
from tests.generator.conftest import TINY, synthetic_faceset

REPO = Path(__file__).resolve().parents[3]


def test_optimizer_state_roundtrips_without_pickle() -> None:
    torch.manual_seed(0)
    m = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for _ in range(3):
        opt.zero_grad()
        m(torch.rand(2, 4)).pow(2).sum().backward()
        opt.step()
    tensors, meta = optimizer_to_flat("opt", opt)
    fresh = torch.optim.Adam(m.parameters(), lr=5.0)
    optimizer_from_flat("opt", fresh, tensors, meta)
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for idx in a["state"]:
        for k, v in a["state"][idx].items():
            assert torch.equal(v, b["state"][idx][k])


def test_numpy_rng_state_survives_json() -> None:
    import json

    rng = np.random.default_rng(123)
    rng.random(5)
    st = json.loads(json.dumps(numpy_rng_state(rng)))
    other = np.random.default_rng(0)
    restore_numpy_rng(other, st)
    assert np.array_equal(rng.random(4), other.random(4))


def test_incomplete_checkpoints_are_ignored(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, 1, {"x": torch.ones(2)}, {"a": 1})
    save_checkpoint(tmp_path, 2, {"x": torch.full((2,), 2.0)}, {"a": 2})
    (tmp_path / "checkpoints" / "step_00000003").mkdir()  # a directory without files (cannot come from us, but be safe)
    (tmp_path / "checkpoints" / ".tmp-dead").mkdir()  # left by a save killed midway
    ck = load_checkpoint(tmp_path)
    assert ck is not None and ck.step == 2 and ck.meta["a"] == 2 and float(ck.tensors["x"][0]) == 2.0
    save_checkpoint(tmp_path, 4, {"x": torch.zeros(2)}, {"a": 4}, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert "step_00000001" not in names and ".tmp-dead" not in names and "step_00000004" in names


def test_kill_9_then_resume(tmp_path: Path) -> None:
    """A training process killed with SIGKILL resumes from its last complete checkpoint."""
    run = tmp_path / "run"
    code = (
        "from pathlib import Path\n"
        "from tests.generator.conftest import TINY, synthetic_faceset\n"
        "from generator.train import train_facesets\n"
        "fs = {'alice': synthetic_faceset('alice', seed=1), 'bob': synthetic_faceset('bob', seed=2)}\n"
        f"train_facesets(fs, Path({str(run)!r}), TINY, max_steps=10**6, progress=False, checkpoint_steps=1)\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            d = latest_checkpoint_dir(run)
            if d is not None and int(d.name.split("_")[1]) >= 3:
                break
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "trainer exited")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    killed_at = load_checkpoint(run)
    assert killed_at is not None and killed_at.step >= 3
    fs = {"alice": synthetic_faceset("alice", seed=1), "bob": synthetic_faceset("bob", seed=2)}
    r = train_facesets(fs, run, TINY, max_steps=killed_at.step + 2, resume=True, progress=False)
    assert r.step == killed_at.step + 2 and r.session_steps == 2
    assert not list((run / "checkpoints").glob(".tmp-*"))
