"""Training checkpoints: safetensors for every tensor (models and optimizers), JSON for the rest.

Why a directory per checkpoint renamed into place: a checkpoint is two files (tensors + JSON)
that must agree. Both are written into a hidden temporary directory which is then renamed to
``checkpoints/step_XXXXXXXX`` in one atomic step, so a kill -9 at any moment leaves either the
complete new checkpoint or none of it, and resume simply takes the newest complete directory.
Nothing here ever unpickles: optimizer states are flattened to named tensors plus JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

CHECKPOINT_DIR = "checkpoints"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    path: Path  # the step directory
    step: int
    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor]


def prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict's tensors named ``prefix.key`` (detached copies), so several share one file."""
    return {f"{prefix}.{k}": v.detach().cpu().contiguous().clone() for k, v in tensors.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors saved under ``prefix`` with the prefix taken off; ValueError when there are none."""
    sub = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    if not sub:
        raise ValueError(f"checkpoint has no tensors for {prefix!r}; it belongs to a different model")
    return sub


def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return prefixed(prefix, module.state_dict())


def load_module(prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    module.load_state_dict(unprefixed(prefix, tensors), strict=True)


def optimizer_to_flat(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state_dict into named tensors and a JSON-safe remainder."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    extra: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.state.{idx}.{k}"] = v.detach().cpu().contiguous().clone()
            else:
                extra.setdefault(str(idx), {})[k] = v
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "state_extra": extra}


def optimizer_from_flat(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    head = prefix + ".state."
    for name, t in tensors.items():
        if name.startswith(head):
            idx, key = name[len(head):].split(".", 1)
            state.setdefault(int(idx), {})[key] = t
    for idx, kv in meta.get("state_extra", {}).items():
        state.setdefault(int(idx), {}).update(kv)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def numpy_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """Bit-generator state with 128-bit integers as strings (JSON readers elsewhere lose precision)."""
    st = rng.bit_generator.state
    return {"bit_generator": st["bit_generator"], "state": {k: str(v) for k, v in st["state"].items()},
            "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


def restore_numpy_rng(rng: np.random.Generator, st: dict[str, Any]) -> None:
    rng.bit_generator.state = {"bit_generator": st["bit_generator"], "state": {k: int(v) for k, v in st["state"].items()},
                               "has_uint32": st["has_uint32"], "uinteger": st["uinteger"]}


def torch_rng_state() -> list[int]:
    return [int(b) for b in torch.get_rng_state().tolist()]


def restore_torch_rng(state: list[int]) -> None:
    torch.set_rng_state(torch.tensor(state, dtype=torch.uint8))


def _step_dirs(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))


def save_checkpoint(run_dir: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: int = 2) -> Path:
    root = Path(run_dir) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:08d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        meta = {**meta, "format_version": FORMAT_VERSION, "step": step}
        save_file(tensors, str(tmp / "state.safetensors"), metadata={"step": str(step)})
        (tmp / "state.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        for f in tmp.iterdir():
            with f.open("rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():  # the same step saved twice (e.g. end right after a periodic save)
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in _step_dirs(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".tmp-*"):  # left behind by a killed save
        shutil.rmtree(stale, ignore_errors=True)
    return final


def latest_checkpoint_dir(run_dir: Path) -> Path | None:
    for d in reversed(_step_dirs(run_dir)):
        if (d / "state.json").is_file() and (d / "state.safetensors").is_file():
            return d
    return None


def _read_meta(d: Path) -> dict[str, Any]:
    meta = json.loads((d / "state.json").read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"checkpoint {d} has format {meta.get('format_version')}, this code reads {FORMAT_VERSION}; retrain")
    return meta


def load_checkpoint_meta(run_dir: Path) -> dict[str, Any] | None:
    """What the newest complete checkpoint records (step, options, preset...) without reading its
    tensors, or None when the run has none yet."""
    d = latest_checkpoint_dir(run_dir)
    return None if d is None else _read_meta(d)


def load_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The newest complete checkpoint of a run, or None when it has none yet."""
    d = latest_checkpoint_dir(run_dir)
    if d is None:
        return None
    meta = _read_meta(d)
    return Checkpoint(path=d, step=int(meta["step"]), meta=meta, tensors=load_file(str(d / "state.safetensors")))
