import json

import numpy as np
import pytest
import torch

from detector.checkpoint import (
    load_checkpoint,
    optimizer_from_flat,
    optimizer_to_flat,
    rng_from_json,
    rng_to_json,
    save_checkpoint,
)


def _model_and_opt():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(8, 4)).square().mean().backward()
        opt.step()
    return model, opt


def test_optimizer_state_round_trips_without_pickle():
    model, opt = _model_and_opt()
    tensors, meta = optimizer_to_flat(opt)
    json.dumps(meta)  # the non-tensor part must be plain JSON
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-2)
    optimizer_from_flat(fresh, tensors, json.loads(json.dumps(meta)))
    a, b = opt.state_dict(), fresh.state_dict()
    for pid in a["state"]:
        for k, v in a["state"][pid].items():
            assert torch.equal(v, b["state"][pid][k])


def test_rng_states_round_trip_through_json():
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    saved = json.loads(json.dumps(rng_to_json(rng)))
    expected = (rng.random(3), torch.rand(3))
    rng2 = np.random.default_rng(99)
    rng_from_json(saved, rng2)
    assert np.array_equal(rng2.random(3), expected[0]) and torch.equal(torch.rand(3), expected[1])


def test_new_checkpoint_replaces_old_files_and_reloads(tmp_path):
    model, opt = _model_and_opt()
    save_checkpoint(tmp_path, 1, model, model.state_dict(), opt, {"epoch": 0})
    save_checkpoint(tmp_path, 2, model, model.state_dict(), opt, {"epoch": 1})
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best-2.safetensors", "model-2.safetensors", "optimizer-2.safetensors", "state.json"]
    state, tensors = load_checkpoint(tmp_path)
    assert state["epoch"] == 1
    assert all(torch.equal(v, tensors["model"][k]) for k, v in model.state_dict().items())


def test_missing_or_incomplete_checkpoint(tmp_path):
    assert load_checkpoint(tmp_path) is None
    model, opt = _model_and_opt()
    save_checkpoint(tmp_path, 1, model, model.state_dict(), opt, {})
    (tmp_path / "optimizer-1.safetensors").unlink()
    with pytest.raises(ValueError, match="incomplete"):
        load_checkpoint(tmp_path)
