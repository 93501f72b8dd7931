from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fakescope.core.checkpoint import (
    latest_checkpoint_dir,
    load_checkpoint,
    module_tensors,
    numpy_rng_state,
    optimizer_from_flat,
    optimizer_to_flat,
    restore_numpy_rng,
    restore_torch_rng,
    save_checkpoint,
    torch_rng_state,
    unprefixed,
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


@pytest.mark.slow
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


def _model_and_opt() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A detector-like model (BatchNorm buffers, AdamW) after two steps, as detector training saves it."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(8, 4)).square().mean().backward()
        opt.step()
    return model, opt


def test_adamw_state_of_a_batchnorm_model_round_trips_through_json_and_safetensors(tmp_path: Path) -> None:
    import json

    model, opt = _model_and_opt()
    tensors, meta = optimizer_to_flat("optimizer", opt)
    json.dumps(meta)  # the non-tensor part must be plain JSON
    save_checkpoint(tmp_path, 2, {**module_tensors("model", model), **tensors}, {"optimizer": meta})
    loaded = load_checkpoint(tmp_path)
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-2)
    optimizer_from_flat("optimizer", fresh, loaded.tensors, loaded.meta["optimizer"])
    a, b = opt.state_dict(), fresh.state_dict()
    for pid in a["state"]:
        for k, v in a["state"][pid].items():
            assert torch.equal(v, b["state"][pid][k])
    assert all(torch.equal(v, unprefixed("model", loaded.tensors)[k]) for k, v in model.state_dict().items())


def test_torch_and_numpy_rng_states_round_trip_through_json() -> None:
    import json

    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    saved = json.loads(json.dumps({"numpy": numpy_rng_state(rng), "torch": torch_rng_state()}))
    expected = (rng.random(3), torch.rand(3))
    rng2 = np.random.default_rng(99)
    torch.manual_seed(99)
    restore_numpy_rng(rng2, saved["numpy"])
    restore_torch_rng(saved["torch"])
    assert np.array_equal(rng2.random(3), expected[0]) and torch.equal(torch.rand(3), expected[1])


def test_newer_checkpoints_replace_older_ones_and_reload(tmp_path: Path) -> None:
    model, _ = _model_and_opt()
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, module_tensors("model", model), {"epoch": step - 1}, keep=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_00000002", "step_00000003"]
    loaded = load_checkpoint(tmp_path)
    assert (loaded.step, loaded.meta["epoch"]) == (3, 2)


def test_no_checkpoint_is_none_and_a_half_written_one_is_skipped(tmp_path: Path) -> None:
    assert load_checkpoint(tmp_path) is None
    model, _ = _model_and_opt()
    save_checkpoint(tmp_path, 1, module_tensors("model", model), {"epoch": 0})
    save_checkpoint(tmp_path, 2, module_tensors("model", model), {"epoch": 1})
    (tmp_path / "checkpoints" / "step_00000002" / "state.safetensors").unlink()  # killed mid-write
    assert load_checkpoint(tmp_path).step == 1
    with pytest.raises(ValueError, match="different model"):
        unprefixed("ema", load_checkpoint(tmp_path).tensors)
