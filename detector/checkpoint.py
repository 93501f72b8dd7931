"""Crash-safe training checkpoints without pickle.

Tensors (model, best model, optimizer moments) go to safetensors, everything else (epoch, step,
history, RNG states, optimizer hyper-parameters) to ``state.json``. Tensor files carry the global
step in their name and ``state.json`` (written last, atomically) names the files it belongs to,
so a crash at any moment leaves the previous checkpoint intact; stale files are removed after.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from detector.io import atomic_save_tensors
from fakescope.core.atomicio import write_text_atomic

STATE_FILE = "state.json"


def optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into tensors and JSON-able rest."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v
            else:
                scalars.setdefault(str(pid), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    for pid, st in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_to_json(np_rng: np.random.Generator) -> dict[str, Any]:
    return {
        "numpy": np_rng.bit_generator.state,
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii"),
    }


def rng_from_json(d: dict[str, Any], np_rng: np.random.Generator) -> None:
    np_rng.bit_generator.state = d["numpy"]
    torch.set_rng_state(torch.from_numpy(np.frombuffer(base64.b64decode(d["torch"]), dtype=np.uint8).copy()))


def save_checkpoint(
    ckpt_dir: Path,
    step: int,
    model: torch.nn.Module,
    best_state: dict[str, torch.Tensor],
    opt: torch.optim.Optimizer,
    state: dict[str, Any],
    extra: dict[str, dict[str, torch.Tensor]] | None = None,
) -> None:
    """Write tensors under step-stamped names, then the state.json that points at them.

    ``extra`` holds further named state dicts (e.g. the weight average, ``"ema"``); each comes
    back from ``load_checkpoint`` under its name."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    if {"model", "best", "optimizer"} & set(extra):
        raise ValueError(f"extra checkpoint tensors may not be named model, best or optimizer (got {sorted(extra)})")
    files = {
        "model": f"model-{step}.safetensors",
        "best": f"best-{step}.safetensors",
        "optimizer": f"optimizer-{step}.safetensors",
        **{name: f"{name}-{step}.safetensors" for name in extra},
    }
    opt_tensors, opt_meta = optimizer_to_flat(opt)
    atomic_save_tensors(ckpt_dir / files["model"], model.state_dict())
    atomic_save_tensors(ckpt_dir / files["best"], best_state)
    atomic_save_tensors(ckpt_dir / files["optimizer"], opt_tensors)
    for name, tensors in extra.items():
        atomic_save_tensors(ckpt_dir / files[name], tensors)
    write_text_atomic(
        ckpt_dir / STATE_FILE, json.dumps(dict(state, files=files, optimizer=opt_meta), indent=1) + "\n"
    )
    for old in ckpt_dir.glob("*.safetensors"):
        if old.name not in files.values():
            old.unlink(missing_ok=True)


def load_checkpoint(ckpt_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]] | None:
    """(state, {'model', 'best', 'optimizer', *extra} tensors) or None when there is no checkpoint."""
    sf = ckpt_dir / STATE_FILE
    if not sf.is_file():
        return None
    state = json.loads(sf.read_text(encoding="utf-8"))
    missing = [f for f in state["files"].values() if not (ckpt_dir / f).is_file()]
    if missing:
        raise ValueError(
            f"checkpoint in {ckpt_dir} is incomplete (missing {missing}); delete it to start over"
        )
    return state, {k: load_file(ckpt_dir / f) for k, f in state["files"].items()}
