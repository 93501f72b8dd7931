"""Self-supervised pretraining of a detector's feature extractor on real faces (`detector pretrain`).

Why: nothing pretrained can be downloaded here, and a detector trained from scratch on our fakes
learns our generator's look. A representation learnt from real faces alone, without a single
fake, cannot be tied to any generator. The task is contrastive (SimCLR, Chen et al. 2020): two
random views of the same real crop (a random crop and rescale, mirror, colour jitter, blur,
resize, JPEG) must embed nearer to each other than to any other crop of the batch (the NT-Xent
loss), through a small projection head that is thrown away afterwards.

Only real crops of the train split are read (still photos included): no labels, and no
validation or test identity, so the detector's held-out figures stay held out. `detector train
--init DIR` then starts the detector's ``features`` from the result and its head from scratch.
Whether it transfers is measured, not assumed: docs/experiments.md.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from detector.augment import AugmentConfig, augment_crop, colour_jitter
from detector.data import load_crops
from detector.io import atomic_save_tensors, preprocess_crops
from detector.registry import create_detector, detector_spec
from fakescope.core.atomicio import write_bytes_atomic, write_json_atomic
from fakescope.core.checkpoint import (
    load_checkpoint,
    load_module,
    module_tensors,
    numpy_rng_state,
    optimizer_from_flat,
    optimizer_to_flat,
    restore_numpy_rng,
    restore_torch_rng,
    save_checkpoint,
    torch_rng_state,
)
from fakescope.core.device import resolve_device
from fakescope.core.hashing import sha256_file
from fakescope.core.version import code_version

WEIGHTS_FILE = "pretrain.safetensors"  # features.* (the detector's) and projector.* tensors
RECORD_FILE = "pretrain.json"
LOSS_FILE = "losses.csv"


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 3000  # total steps; a resumed run continues up to this
    minutes: float | None = None  # stop (with a checkpoint) after this long; resume to go on
    batch_size: int = 64  # crops per step; each gives two views
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    proj_dim: int = 64
    input_size: int = 128
    crop_scale: tuple[float, float] = (0.35, 1.0)  # area share of the random crop of each view
    # SimCLR's colour distortion: without it two views of a crop match by their colour histograms alone
    colour_p: float = 0.8  # probability of a strong brightness/contrast/saturation jitter
    colour_strength: float = 0.4
    grey_p: float = 0.2  # probability of a greyscale view
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(p=0.5))
    max_frames_per_video: int = 32
    seed: int = 0
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    bf16: bool = False
    checkpoint_every_s: float = 300.0
    log_every: int = 25
    resume: bool = False
    progress: bool = True
    device: str = "auto"


# Settings a checkpoint can only be continued under (steps and minutes may change): PretrainConfig fields.
_RESUME_KEYS = ("arch_kwargs", "input_size", "batch_size", "temperature", "proj_dim", "seed", "max_frames_per_video",
                "lr", "weight_decay", "crop_scale", "augment", "colour_p", "colour_strength", "grey_p")


@dataclass(frozen=True)
class PretrainResult:
    out_dir: Path
    step: int
    finished: bool
    loss: float | None  # mean NT-Xent loss of the last logged interval
    view_accuracy: float | None  # share of views whose nearest other embedding is their twin (same interval)


class Projector(nn.Module):
    """Pooled feature map -> small MLP -> embedding: the contrastive head, discarded after pretraining."""

    def __init__(self, channels: int, dim: int, grid: int = 4) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.mlp = nn.Sequential(nn.Linear(channels * grid * grid, 256), nn.ReLU(inplace=True), nn.Linear(256, dim))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.pool(feats).flatten(1))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """NT-Xent loss of paired embeddings (row i of ``z1`` and of ``z2`` are views of one crop), and
    the share of the 2B views whose most similar other view is their twin."""
    if z1.shape != z2.shape or len(z1) < 2:
        raise ValueError(f"nt_xent needs two (B, D) embeddings of equal shape with B >= 2, got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    twin = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    loss = F.cross_entropy(sim, twin)
    acc = (sim.argmax(1) == twin).float().mean()
    return loss, acc


def random_view(img: np.ndarray, rng: np.random.Generator, cfg: PretrainConfig) -> np.ndarray:
    """One random view of a (S, S, 3) uint8 crop: a random crop rescaled to S, a strong colour jitter
    and sometimes greyscale (SimCLR's distortions), then the detector's training degradations
    (mirror, colour, resize, blur, JPEG)."""
    s = img.shape[0]
    area = rng.uniform(*cfg.crop_scale) * s * s
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    w = int(round(min(s, np.sqrt(area * aspect))))
    h = int(round(min(s, np.sqrt(area / aspect))))
    x0 = int(rng.integers(0, s - w + 1))
    y0 = int(rng.integers(0, s - h + 1))
    out = cv2.resize(np.ascontiguousarray(img[y0:y0 + h, x0:x0 + w]), (s, s), interpolation=cv2.INTER_LINEAR)
    if rng.random() < cfg.colour_p:
        out = colour_jitter(out, rng, cfg.colour_strength)
    if rng.random() < cfg.grey_p:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return augment_crop(out, rng, cfg.augment)


def _record(arch: str, cfg: PretrainConfig, manifest_hash: str, manifests: Any, n_crops: int) -> dict[str, Any]:
    run = {"arch": arch, "manifest_hash": manifest_hash, "manifests": [{"dir": d, "sha256": h} for d, h in manifests],
           "real_crops": n_crops, "config": asdict(cfg), "code": code_version()}
    return json.loads(json.dumps(run))


def _changed(prev: dict[str, Any], run: dict[str, Any]) -> list[str]:
    """Settings of ``run`` that differ from the checkpointed run's record ``prev``."""
    changed = [k for k in ("arch", "manifest_hash") if prev.get(k) != run[k]]
    return changed + [k for k in _RESUME_KEYS if prev.get("config", {}).get(k) != run["config"][k]]


def pretrain(testset_dirs: list[Path], arch: str, out_dir: Path, cfg: PretrainConfig | None = None) -> PretrainResult:
    """Contrastive pretraining of ``arch``'s ``features`` on the real train-split crops of ``testset_dirs``.

    Writes ``out_dir/pretrain.safetensors`` (atomically, at every checkpoint and at the end),
    ``pretrain.json`` (settings, data hashes, code version, step) and ``losses.csv``; with
    ``cfg.resume`` an interrupted or finished run continues from its last checkpoint with the same
    draws it would have had, up to ``cfg.steps``."""
    from tqdm import tqdm

    cfg = cfg or PretrainConfig()
    if cfg.batch_size < 2:
        raise ValueError(f"batch_size must be at least 2 (each crop's twin is told apart from the others), got {cfg.batch_size}")
    if cfg.steps < 1:
        raise ValueError(f"steps must be >= 1, got {cfg.steps}")
    if not 0 < cfg.crop_scale[0] <= cfg.crop_scale[1] <= 1:
        raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {cfg.crop_scale}")
    spec = detector_spec(arch)
    if spec.needs_mask:
        raise ValueError(f"{arch} reads a face-mask plane; pretrain an architecture that reads the crop alone "
                         "(e.g. meso4_contrast)")
    out_dir = Path(out_dir)
    data = load_crops([Path(d) for d in testset_dirs], cfg.input_size, cfg.max_frames_per_video)
    train = data.splits["train"]
    reals = train.images[train.labels == 0]
    if len(reals) < cfg.batch_size:
        raise ValueError(f"{len(reals)} real train-split crops in {', '.join(map(str, testset_dirs))}; pretraining "
                         f"needs at least one batch ({cfg.batch_size}); add real videos or photos (testset photos)")
    run = _record(arch, cfg, data.manifest_hash, data.manifests, len(reals))

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = resolve_device(cfg.device)
    model = create_detector(arch, **cfg.arch_kwargs)
    if not isinstance(getattr(model, "features", None), nn.Module):
        raise ValueError(f"{arch} has no `features` module to pretrain")
    features = model.features.to(dev, memory_format=torch.channels_last)
    with torch.no_grad():
        channels = features(torch.zeros(1, 3, cfg.input_size, cfg.input_size, device=dev)).shape[1]
    projector = Projector(channels, cfg.proj_dim).to(dev)
    params = [*features.parameters(), *projector.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, history = 0, []
    losses: list[float] = []  # since the last logged interval (checkpointed, so a resume logs the same figures)
    accs: list[float] = []
    loaded = load_checkpoint(out_dir)
    if loaded is not None:
        if not cfg.resume:
            raise ValueError(f"{out_dir} already holds a pretraining run; pass --resume to continue it or pick a new --out")
        prev = loaded.meta.get("record", {})
        changed = _changed(prev, run)
        if changed:
            raise ValueError(f"cannot resume {out_dir}: {', '.join(changed)} differ from the checkpointed run; use a new --out")
        load_module("features", features, loaded.tensors)
        load_module("projector", projector, loaded.tensors)
        optimizer_from_flat("optimizer", opt, loaded.tensors, loaded.meta["optimizer"])
        restore_numpy_rng(rng, loaded.meta["rng"]["numpy"])
        restore_torch_rng(loaded.meta["rng"]["torch"])
        step, history = loaded.step, list(loaded.meta.get("history", []))
        losses, accs = list(loaded.meta.get("pending", {}).get("loss", [])), list(loaded.meta.get("pending", {}).get("acc", []))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / RECORD_FILE, {**run, "step": step, "finished": False,
                                              "last": history[-1] if history else None})

    def save(finished: bool) -> None:
        opt_tensors, opt_meta = optimizer_to_flat("optimizer", opt)
        weights = {**module_tensors("features", features), **module_tensors("projector", projector)}
        meta = {"rng": {"numpy": numpy_rng_state(rng), "torch": torch_rng_state()}, "optimizer": opt_meta,
                "history": history, "pending": {"loss": losses, "acc": accs}, "record": run}
        save_checkpoint(out_dir, step, {**weights, **opt_tensors}, meta)
        atomic_save_tensors(out_dir / WEIGHTS_FILE, weights, metadata={"arch": arch, "step": str(step)})
        write_json_atomic(out_dir / RECORD_FILE, {**run, "step": step, "finished": finished,
                                                  "last": history[-1] if history else None})
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["step", "loss", "view_accuracy", "seconds"], lineterminator="\n")
        w.writeheader()
        w.writerows(history)
        write_bytes_atomic(out_dir / LOSS_FILE, buf.getvalue().encode())

    norm = (spec.mean, spec.std)
    t0 = last_ckpt = time.monotonic()
    before = float(history[-1]["seconds"]) if history else 0.0  # training seconds of earlier sessions
    bar = tqdm(total=cfg.steps, initial=step, desc=f"pretrain {arch}", disable=not cfg.progress)
    features.train()
    projector.train()
    stopped = False
    while step < cfg.steps:
        if cfg.minutes is not None and time.monotonic() - t0 > cfg.minutes * 60:
            stopped = True
            break
        pick = rng.integers(0, len(reals), size=cfg.batch_size)
        seeds = rng.integers(0, 2**63 - 1, size=(2, cfg.batch_size))
        views = [np.stack([random_view(reals[i], np.random.default_rng(int(s)), cfg) for i, s in zip(pick, row, strict=True)])
                 for row in seeds]
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            z = [projector(features(preprocess_crops(v, cfg.input_size, *norm).to(dev))).float() for v in views]
        loss, acc = nt_xent(z[0], z[1], cfg.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        accs.append(float(acc))
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.steps:
            history.append({"step": step, "loss": round(float(np.mean(losses)), 5),
                            "view_accuracy": round(float(np.mean(accs)), 4),
                            "seconds": round(before + time.monotonic() - t0, 1)})
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", acc=f"{history[-1]['view_accuracy']:.2f}")
            losses.clear()
            accs.clear()
        if time.monotonic() - last_ckpt > cfg.checkpoint_every_s:
            save(False)
            last_ckpt = time.monotonic()
    bar.close()
    save(not stopped)
    last = history[-1] if history else {}
    return PretrainResult(out_dir, step, not stopped, last.get("loss"), last.get("view_accuracy"))


def init_features(model: nn.Module, init_dir: str | Path, arch: str, arch_kwargs: dict[str, Any]) -> str:
    """Load a `detector pretrain` run's ``features`` into ``model`` (its head stays as created);
    returns the sha256 of the weights file. ValueError when the run is of another architecture."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = Path(init_dir)
    weights, record = d / WEIGHTS_FILE, d / RECORD_FILE
    if not weights.is_file() or not record.is_file():
        raise ValueError(f"{d}: not a `fakescope detector pretrain` output (needs {WEIGHTS_FILE} and {RECORD_FILE})")
    rec = json.loads(record.read_text(encoding="utf-8"))
    kwargs = rec.get("config", {}).get("arch_kwargs") or {}
    if rec.get("arch") != arch or kwargs != json.loads(json.dumps(arch_kwargs)):
        raise ValueError(f"{d} pretrained {rec.get('arch')} {kwargs or ''}; this run trains {arch} "
                         f"{arch_kwargs or ''}: pretrain the same architecture, or pass --init none (the init may "
                         "come from the --config recipe)")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{weights}: unreadable safetensors file ({exc})") from None
    load_module("features", model.features, tensors)
    return sha256_file(weights)
