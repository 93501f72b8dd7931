"""``train_detector``: fit a registered architecture on test-set crops, calibrate it, save it.

Model selection, calibration and the threshold all use the validation split only; the test split
is scored once at the end for the record (it never influences the saved model). The run writes to
``out_dir``: ``model.safetensors`` + ``config.json`` (loadable with ``detector.io.load_model``),
``recipe.json`` (the architecture and settings, runnable again with ``detector train --config``),
``run.json`` (resolved config, seed, data hashes, code version, history), ``curves.png`` and
``checkpoints/`` (for ``resume=True``; fakescope.core.checkpoint).
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from detector.augment import AugmentConfig, augment_batch, augment_batch_with_masks, match_detail
from detector.calibration import choose_threshold, make_calibrator
from detector.curves import plot_curves
from detector.data import CropData, CropSplit, load_crops
from detector.distributed import Dist
from detector.evaluate import auc_or_none, predict_split, split_metrics, video_scores
from detector.io import preprocess_crops, save_model
from detector.registry import DetectorSpec, create_detector, detector_spec
from detector.sbi import BatchPlan, materialize, plan_batch, real_weights, seam_known, seam_target
from fakescope.core.atomicio import write_json_atomic, write_text_atomic
from fakescope.core.checkpoint import (
    latest_checkpoint_dir,
    load_checkpoint,
    load_module,
    module_tensors,
    numpy_rng_state,
    optimizer_from_flat,
    optimizer_to_flat,
    prefixed,
    restore_numpy_rng,
    restore_torch_rng,
    save_checkpoint,
    torch_rng_state,
    unprefixed,
)
from fakescope.core.config import config_from_dict, config_to_dict
from fakescope.core.device import resolve_device
from fakescope.core.version import code_version


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    input_size: int = 128
    seed: int = 0
    steps_per_epoch: int | None = None  # None: as many batches as there are training crops
    max_frames_per_video: int = 32
    patience: int = 4  # epochs without a gain in the selection score before stopping
    select: str = "auc"  # epoch selection: auc (val frame AUC) | worst_method (lowest per-method val AUC)
    min_delta: float = 1e-4
    calibration: str = "temperature"  # temperature | isotonic | none
    threshold_criterion: str = "youden"  # youden | fpr
    top_frac: float = 0.25
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)  # None: no augmentation
    bf16: bool = False  # bfloat16 autocast for forward passes (faster convs on AMX CPUs)
    checkpoint_every_s: float = 300.0
    resume: bool = False
    progress: bool = True
    exclude_methods: tuple[str, ...] = ()  # fake methods left out of train/val (held-out test)
    fusion_holdout: bool = False  # keep half the val identities away for the fusion fit (fakescope.core.splits)
    sbi_fraction: float = 0.0  # share of each batch that is real crops paired with fresh self-blends (detector.sbi)
    ema_decay: float = 0.0  # > 0: validate, select and save an exponential moving average of the weights (_Ema)
    seam_weight: float = 0.0  # > 0: add this times the seam-map loss (Face X-ray; archs with predicts_seam)
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    init: str | None = None  # a `detector pretrain` output whose features start the model (detector.pretrain)
    eval_batch_size: int = 128
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda; fakescope.core.device


RECIPE_FILE = "recipe.json"
_RUNTIME_KEYS = ("resume", "progress", "device")  # how a run is driven, not what it trains: never part of a recipe


def recipe_json(arch: str, cfg: TrainConfig) -> dict[str, Any]:
    """The recipe file of a run: the architecture and every training setting, runnable again with
    `fakescope detector train --config recipe.json --data ... --out ...`."""
    settings = {k: v for k, v in config_to_dict(cfg).items() if k not in _RUNTIME_KEYS}
    return {"arch": arch, **settings}


def read_recipe(path: str | Path) -> tuple[str | None, TrainConfig]:
    """(arch or None, settings) of a recipe file; ValueError naming the file and the bad key or value."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such recipe file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON recipe ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a recipe is a JSON object of settings, got {type(data).__name__}")
    runtime = [k for k in _RUNTIME_KEYS if k in data]
    if runtime:
        raise ValueError(f"{path}: {', '.join(runtime)} belong on the command line, not in a recipe")
    arch = data.get("arch")
    if arch is not None and not isinstance(arch, str):
        raise ValueError(f"{path}: field 'arch' must be an architecture name, got {arch!r}")
    return arch, config_from_dict(TrainConfig, data, str(path), ignore=("arch",))


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    metrics: dict[str, Any]
    best_epoch: int
    epochs_run: int
    stopped_early: bool


@dataclass
class _Progress:
    """Everything besides tensors that a resumed run needs; stored in the checkpoint's state.json."""

    epoch: int = 0  # completed epochs
    step_in_epoch: int = 0
    global_step: int = 0
    best_auc: float = -1.0
    best_epoch: int = -1
    bad_epochs: int = 0
    stopped: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)


# Settings that must match for a checkpoint to be continued (others, e.g. epochs, may change).
_RESUME_KEYS = (
    "arch",
    "arch_kwargs",
    "input_size",
    "seed",
    "manifest_hash",
    "max_frames_per_video",
    "exclude_methods",
    "sbi_fraction",
    "ema_decay",
    "seam_weight",
    "select",
    "init",
)
_RESUME_DEFAULTS = {"ema_decay": 0.0, "seam_weight": 0.0, "select": "auc", "init": None}  # keys added later: runs recorded before them had this value


class _Ema:
    """Exponential moving average of a model's parameters and buffers (Polyak averaging).

    Why: with a validation split of a few identities, the epoch picked by validation AUC is partly
    noise and single epochs differ by several points of test AUC; an average over the last few
    hundred steps is a smoother model to select and ship. The decay ramps up as (1 + t) / (10 + t),
    as in timm's ModelEma, so early steps do not drag in the random initialisation. Integer
    buffers (BatchNorm's batch counter) are copied, not averaged.
    """

    def __init__(self, model: torch.nn.Module, decay: float, state: dict[str, torch.Tensor] | None = None) -> None:
        self.decay = decay  # in (0, 1): train_detector checks TrainConfig.ema_decay
        src = state if state is not None else model.state_dict()
        dev = next(model.parameters()).device
        self.state = {k: v.detach().clone().to(dev) for k, v in src.items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            e = self.state[k]
            if e.is_floating_point():
                e.mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                e.copy_(v)

    def model_like(self, model: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``model`` holding the averaged weights (for validation and saving)."""
        avg = copy.deepcopy(model)
        avg.load_state_dict(self.state)
        return avg


def _lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up then cosine decay to 5% of the base rate (stateless, so resume is exact)."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    progress = min(1.0, step / max(1, total))
    return cfg.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def _run_record(arch: str, cfg: TrainConfig, data: CropData) -> dict[str, Any]:
    counts = {
        s: {"frames": len(v), "videos": len(v.video_labels), "fake_videos": int(v.video_labels.sum())}
        for s, v in data.splits.items()
    }
    run = {
        "arch": arch,
        "arch_kwargs": cfg.arch_kwargs,
        "input_size": cfg.input_size,
        "seed": cfg.seed,
        "max_frames_per_video": cfg.max_frames_per_video,
        "exclude_methods": cfg.exclude_methods,
        "sbi_fraction": cfg.sbi_fraction,
        "ema_decay": cfg.ema_decay,
        "seam_weight": cfg.seam_weight,
        "select": cfg.select,
        "init": str(Path(cfg.init).resolve()) if cfg.init else None,  # ./ssl and ssl/ are one pretrained run
        "manifest_hash": data.manifest_hash,
        "manifests": [{"dir": d, "sha256": h} for d, h in data.manifests],
        "counts": counts,
        "config": asdict(cfg),
        "code": code_version(),
    }
    return json.loads(json.dumps(run))  # tuples -> lists: compares equal to a stored run.json


def _check_seam(arch: str, cfg: TrainConfig) -> None:
    if cfg.seam_weight < 0:
        raise ValueError(f"seam_weight must be >= 0 (got {cfg.seam_weight}); e.g. 1.0, or 0 to train without the seam loss")
    if cfg.seam_weight == 0:
        return
    if cfg.sbi_fraction == 0:
        raise ValueError("the seam loss learns from online self-blends, whose masks are known; pass --sbi (e.g. 0.5)")
    if not getattr(type(create_detector(arch, **cfg.arch_kwargs)), "predicts_seam", False):
        raise ValueError(f"{arch} predicts no seam map; pick meso4_xray or train with --seam 0")


def _augment_planes(
    imgs: np.ndarray,
    masks: np.ndarray | None,
    alpha: np.ndarray | None,
    hulls: np.ndarray | None,
    cfg: AugmentConfig,
    seeds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Augment crops with per-sample seeds; the model's mask plane and the blend alpha, where
    given, are mirrored with their crop (the only geometric augmentation); ``hulls`` feed the
    background defocus (a self-blend and its twin share hull and seed, so they share the blur)."""
    if masks is None and alpha is None and (hulls is None or cfg.defocus == 0):
        return augment_batch(imgs, None, cfg, seeds=seeds), None, None
    planes = [p.astype(np.float32) for p in (masks, alpha) if p is not None] or [np.zeros(imgs.shape[:3], np.float32)]
    imgs, stacked = augment_batch_with_masks(imgs, np.stack(planes, axis=-1), cfg, seeds, hulls)
    out_masks = None if masks is None else stacked[..., 0].astype(masks.dtype)
    out_alpha = None if alpha is None else stacked[..., -1]
    return imgs, out_masks, out_alpha


def _defocus_hulls(
    hulls: np.ndarray | None, plan: BatchPlan, labels: np.ndarray, sel: slice, cfg: AugmentConfig
) -> np.ndarray | None:
    """The hulls that drive background defocus: those of reals and online self-blends only.

    Why: a generator's swap or warp is blurrier than the footage around it, a real cue that
    defocusing the background of offline fakes erased (docs/experiments.md, background defocus).
    A real and its fresh blend share the defocus, so "soft background" stays
    uninformative on its own; an empty hull turns it off for every other sample.
    """
    if hulls is None or cfg.defocus == 0:
        return hulls
    out = hulls.copy()
    out[~seam_known(plan, labels, sel)] = 0
    return out


def _seam_loss(seam_logits: torch.Tensor, alpha: np.ndarray, known: np.ndarray) -> torch.Tensor:
    """Mean BCE between the predicted seam map and 4 a (1 - a) pooled to its grid, over samples
    whose seam is known; 0 (with a gradient graph) when the slice holds none."""
    if not known.any():
        return seam_logits.sum() * 0.0
    idx = np.flatnonzero(known)
    target = torch.from_numpy(seam_target(alpha[idx]))[:, None].to(seam_logits.device)
    target = F.adaptive_avg_pool2d(target, seam_logits.shape[-2:])[:, 0]
    return F.binary_cross_entropy_with_logits(seam_logits[torch.from_numpy(idx).to(seam_logits.device)], target)


def _check_data(data: CropData, spec: DetectorSpec, sbi_fraction: float = 0.0) -> None:
    if spec.needs_mask:
        lacking = [n for n, s in data.splits.items() if len(s) and s.masks is None]
        if lacking:
            raise ValueError(
                f"{spec.name} reads face masks but the {', '.join(lacking)} crops carry none; rebuild the "
                "test set with 'fakescope testset build' or pick an RGB architecture"
            )
    for name in ("train", "val"):
        s = data.splits[name]
        if name == "train" and sbi_fraction == 1.0:
            # self-blends only (the SBI recipe): every fake is made online from a real crop, so the
            # train split needs reals and no fakes; fake methods may all be excluded
            if not (s.video_labels == 0).any():
                raise ValueError("--sbi 1.0 trains on self-blends of real crops, and the train split has none")
            continue
        if len(np.unique(s.video_labels)) < 2:
            raise ValueError(
                f"the {name} split needs both real and fake videos with crops (has {len(s.video_labels)} "
                "videos); build a larger test set or check the manifest's split column"
            )


SELECT_CRITERIA = ("auc", "worst_method")


def method_aucs(split: CropSplit, logits: np.ndarray) -> dict[str, float]:
    """Frame AUC of every fake method in ``split`` against all its reals (photos count as reals).

    Why a per-method view selects for transfer: the pooled AUC is carried by the methods that are
    easiest to learn (our own autoencoder families), so the epoch it picks is the one that knows
    our generator best; the worst method's AUC rewards an epoch that catches every family.
    """
    crop_methods = np.asarray(split.video_methods, dtype=object)[split.video]
    real = split.labels == 0
    out: dict[str, float] = {}
    for m in sorted({str(x) for x in crop_methods[split.labels == 1]}):
        sel = real | (crop_methods == m)
        a = auc_or_none(split.labels[sel], logits[sel])
        if a is not None:
            out[m] = a
    return out


def _predict(
    model: torch.nn.Module, split: CropSplit, norm: tuple, cfg: TrainConfig, dist: Dist, with_masks: bool = False
) -> np.ndarray:
    """Frame logits of a split; under --distributed each rank scores a block and all get all of them."""
    if not dist.enabled:
        return predict_split(model, split, norm, cfg.input_size, cfg.eval_batch_size, cfg.bf16, with_masks)
    sl = dist.shard(len(split))
    part = replace(split, images=split.images[sl], labels=split.labels[sl],
                   masks=None if split.masks is None else split.masks[sl])
    local = predict_split(model, part, norm, cfg.input_size, cfg.eval_batch_size, cfg.bf16, with_masks)
    return dist.gather(local, len(split))


def train_detector(
    testset_dirs: list[Path],
    arch: str,
    out_dir: Path,
    config: TrainConfig | None = None,
    dist: Dist | None = None,
) -> TrainResult:
    """Train ``arch`` on the train split of ``testset_dirs`` and save a calibrated model in ``out_dir``.

    With ``config.resume`` an interrupted run continues from ``out_dir/checkpoints`` with the same
    batches and RNG draws it would have had; a finished run is only re-calibrated and re-saved.
    With ``dist`` (one process of a torchrun job, see detector/distributed.py) each rank computes its
    slice of every global batch and only rank 0 writes; the result matches a single-process run.
    """
    cfg = config or TrainConfig()
    dist = dist or Dist()
    dist.check_batch(cfg.batch_size)
    if not 0.0 <= cfg.sbi_fraction <= 1.0:
        raise ValueError(f"sbi_fraction must lie in [0, 1] (got {cfg.sbi_fraction}); 0 turns online self-blends off")
    if not 0.0 <= cfg.ema_decay < 1.0:
        raise ValueError(f"ema_decay must lie in [0, 1) (got {cfg.ema_decay}); e.g. 0.998, or 0 to turn averaging off")
    if cfg.select not in SELECT_CRITERIA:
        raise ValueError(f"select must be one of {', '.join(SELECT_CRITERIA)} (got {cfg.select!r})")
    spec = detector_spec(arch)
    _check_seam(arch, cfg)
    out_dir = Path(out_dir)
    dirs = [Path(d) for d in testset_dirs]
    data = load_crops(dirs, cfg.input_size, cfg.max_frames_per_video, cfg.exclude_methods, cfg.fusion_holdout)
    _check_data(data, spec, cfg.sbi_fraction)
    run = _run_record(arch, cfg, data)
    run["world_size"] = dist.world_size  # informative only: a resume may use another number of processes

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = resolve_device(cfg.device)
    if dist.enabled and dev.type != "cpu":
        raise ValueError("--distributed trains in CPU processes (gloo); pass --device cpu, or drop --distributed")
    model = create_detector(arch, **cfg.arch_kwargs).to(dev, memory_format=torch.channels_last)
    if cfg.init and latest_checkpoint_dir(out_dir) is None:  # a resumed run's weights come from its checkpoint
        from detector.pretrain import init_features

        run["init_sha256"] = init_features(model, cfg.init, arch, cfg.arch_kwargs)
    if dist.enabled:  # before the optimizer is built: the swapped layers hold new Parameter objects
        from detector.distributed import globalize_batchnorm

        model = globalize_batchnorm(model, dist.bn_group)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    prog = _Progress()
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ema = _Ema(model, cfg.ema_decay) if cfg.ema_decay > 0 else None

    loaded = load_checkpoint(out_dir)
    if loaded is not None:
        if not cfg.resume:
            raise ValueError(
                f"{out_dir} already holds a training run; pass resume=True to continue it or pick a new out_dir"
            )
        prev = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
        changed = [k for k in _RESUME_KEYS if prev.get(k, _RESUME_DEFAULTS.get(k)) != run[k]]
        if changed:
            detail = "; ".join(f"{k} was {prev.get(k, _RESUME_DEFAULTS.get(k))!r}, now {run[k]!r}" for k in changed)
            raise ValueError(
                f"cannot resume {out_dir}: settings differ from the checkpointed run ({detail}); give the "
                "checkpointed values or use a new out_dir"
            )
        if run["init"]:
            run["init_sha256"] = prev.get("init_sha256")  # what it started from, not the file as it is now
        saved, tensors = loaded.meta, loaded.tensors
        load_module("model", model, tensors)
        best_state = unprefixed("best", tensors)
        if ema is not None:
            ema = _Ema(model, cfg.ema_decay, unprefixed("ema", tensors))
        optimizer_from_flat("optimizer", opt, tensors, saved["optimizer"])
        restore_numpy_rng(rng, saved["rng"]["numpy"])
        restore_torch_rng(saved["rng"]["torch"])
        prog = _Progress(**{k: saved[k] for k in asdict(prog)})
    dist.barrier()  # every rank has read the previous run before rank 0 rewrites run.json
    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out_dir / "run.json", json.dumps(dict(run, finished=False), indent=2) + "\n")
        write_json_atomic(out_dir / RECIPE_FILE, recipe_json(arch, cfg))
    net: torch.nn.Module = model
    if dist.enabled:
        net = torch.nn.parallel.DistributedDataParallel(model)
        dist.decorrelate_torch_rng(cfg.seed, prog.global_step)

    def checkpoint() -> None:
        if dist.is_main:
            opt_tensors, opt_meta = optimizer_to_flat("optimizer", opt)
            tensors = {**module_tensors("model", model), **prefixed("best", best_state), **opt_tensors,
                       **({} if ema is None else prefixed("ema", ema.state))}
            rng_state = {"numpy": numpy_rng_state(rng), "torch": torch_rng_state()}
            save_checkpoint(out_dir, prog.global_step, tensors, dict(asdict(prog), rng=rng_state, optimizer=opt_meta))

    train, val = data.splits["train"], data.splits["val"]
    norm = (spec.mean, spec.std)
    weights = train.balanced_weights()
    if cfg.sbi_fraction == 0 and train.photo_videos.any():
        raise ValueError(
            "the training data holds still photos (generator.photoreals), which are only used as sources of "
            "online self-blends; pass --sbi (e.g. 0.5) or leave the photo set out of --data"
        )
    sbi_weights = real_weights(train) if cfg.sbi_fraction > 0 else None
    defocus = cfg.augment is not None and cfg.augment.defocus > 0
    if defocus and train.masks is None:
        raise ValueError("background defocus needs the face masks of the crops; rebuild the test set or pass --defocus 0")
    matching = cfg.augment is not None and cfg.augment.match_detail > 0
    if matching and train.masks is None:
        raise ValueError("--match-detail measures detail inside the face masks of the crops; rebuild the test set "
                         "or pass --match-detail 0")
    steps_per_epoch = cfg.steps_per_epoch or max(1, math.ceil(len(train) / cfg.batch_size))
    total_steps = steps_per_epoch * cfg.epochs
    last_ckpt = time.monotonic()
    while prog.epoch < cfg.epochs and not prog.stopped:
        net.train()
        losses = []
        bar = tqdm(
            total=steps_per_epoch,
            initial=prog.step_in_epoch,
            desc=f"{arch} epoch {prog.epoch + 1}/{cfg.epochs}",
            disable=not (cfg.progress and dist.is_main),
            leave=False,
        )
        while prog.step_in_epoch < steps_per_epoch:
            # Every rank draws the whole global batch and one augmentation seed per sample, then
            # keeps its slice: W ranks x B/W samples are exactly the B samples of one process.
            plan = plan_batch(rng, cfg.batch_size, weights, cfg.sbi_fraction, sbi_weights)
            seeds = None if cfg.augment is None else plan.tie(rng.integers(0, 2**63 - 1, size=cfg.batch_size))
            mine = dist.shard(cfg.batch_size)
            alpha = None
            if cfg.seam_weight > 0:
                imgs, labels, alpha = materialize(train, plan, mine, alphas=True)
            else:
                imgs, labels = materialize(train, plan, mine)
            # a blend keeps its source's hull: the landmarks of a self-blended face do not move
            hulls = train.masks[plan.index[mine]] if spec.needs_mask or defocus or matching else None
            masks = hulls if spec.needs_mask else None
            if matching:  # before the degradations, which then fall on either class alike
                # pairs are drawn within this rank's share of the batch (the whole batch on one process)
                imgs = match_detail(imgs, labels, hulls, np.random.default_rng(int(seeds[mine][0])),
                                    cfg.augment.match_detail)
            if seeds is not None:  # degradations come after the blend, as a platform's would
                focus = _defocus_hulls(hulls, plan, labels, mine, cfg.augment)
                imgs, masks, alpha = _augment_planes(imgs, masks, alpha, focus, cfg.augment, seeds[mine])
            for g in opt.param_groups:
                g["lr"] = _lr_at(prog.global_step, total_steps, cfg)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                x = preprocess_crops(imgs, cfg.input_size, *norm, masks).to(dev)
                if alpha is None:
                    logits = net(x)
                else:
                    logits, seam_logits = net(x, seam=True)
            loss = F.binary_cross_entropy_with_logits(logits.float(), torch.from_numpy(labels).float().to(dev))
            if alpha is not None:
                loss = loss + cfg.seam_weight * _seam_loss(seam_logits.float(), alpha, seam_known(plan, labels, mine))
            opt.zero_grad(set_to_none=True)
            loss.backward()  # under DDP: gradients averaged over ranks = gradient of the global mean loss
            opt.step()
            if ema is not None:
                ema.update(model, prog.global_step)
            losses.append(dist.mean(loss))
            prog.step_in_epoch += 1
            prog.global_step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            if (
                time.monotonic() - last_ckpt >= cfg.checkpoint_every_s
                and prog.step_in_epoch < steps_per_epoch
            ):
                checkpoint()
                last_ckpt = time.monotonic()
        bar.close()

        scored = model if ema is None else ema.model_like(model)
        val_logits = _predict(scored, val, norm, cfg, dist, spec.needs_mask)
        auc = auc_or_none(val.labels, val_logits)
        by_method = method_aucs(val, val_logits)  # never empty: _check_data made val hold reals and fakes
        score = auc if cfg.select == "auc" else min(by_method.values())
        val_loss = F.binary_cross_entropy_with_logits(
            torch.from_numpy(val_logits), torch.from_numpy(val.labels).float()
        )
        prog.history.append(
            {
                "epoch": prog.epoch + 1,
                "train_loss": float(np.mean(losses)) if losses else None,
                "val_loss": float(val_loss),
                "val_frame_auc": auc,
                "val_video_auc": auc_or_none(
                    val.video_labels, video_scores(val, val_logits, None, cfg.top_frac, as_logits=True)
                ),
                "val_method_auc": by_method,
                "select_score": score,
            }
        )
        if score > prog.best_auc + cfg.min_delta:  # best_auc holds the selection score (name kept for old checkpoints)
            prog.best_auc, prog.best_epoch, prog.bad_epochs = score, prog.epoch + 1, 0
            best_state = {k: v.detach().clone() for k, v in scored.state_dict().items()}
        else:
            prog.bad_epochs += 1
            prog.stopped = prog.bad_epochs >= cfg.patience
        prog.epoch += 1
        prog.step_in_epoch = 0
        checkpoint()
        last_ckpt = time.monotonic()
        if dist.is_main:
            plot_curves(prog.history, out_dir / "curves.png", title=f"{arch} ({out_dir.name})")

    model.load_state_dict(best_state)
    if not dist.is_main:  # rank 0 calibrates, tests and saves; the others report what it wrote
        dist.barrier()
        saved_config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
        return TrainResult(out_dir, saved_config["metrics"], prog.best_epoch, prog.epoch, prog.stopped)
    result = _finish(model, data, spec, cfg, run, prog, out_dir)
    dist.barrier()
    return result


def _finish(
    model: torch.nn.Module,
    data: CropData,
    spec: DetectorSpec,
    cfg: TrainConfig,
    run: dict,
    prog: _Progress,
    out_dir: Path,
) -> TrainResult:
    """Calibrate the selected model on val, pick the video threshold there, score test once, save."""
    norm = (spec.mean, spec.std)
    val, test = data.splits["val"], data.splits["test"]
    val_logits = predict_split(model, val, norm, cfg.input_size, cfg.eval_batch_size, cfg.bf16, spec.needs_mask)
    calibrator = make_calibrator(cfg.calibration).fit(val_logits, val.labels)
    val_video = video_scores(val, val_logits, calibrator, cfg.top_frac)
    threshold = choose_threshold(val.video_labels, val_video, cfg.threshold_criterion)
    frame_threshold = choose_threshold(
        val.labels, calibrator.predict_proba(val_logits), cfg.threshold_criterion
    )
    metrics: dict[str, Any] = {
        "best_epoch": prog.best_epoch,
        "epochs_run": prog.epoch,
        "val": split_metrics(val, val_logits, calibrator, cfg.top_frac, threshold),
    }
    if len(test):
        test_logits = predict_split(model, test, norm, cfg.input_size, cfg.eval_batch_size, cfg.bf16, spec.needs_mask)
        metrics["test"] = split_metrics(test, test_logits, calibrator, cfg.top_frac, threshold)
    config = {
        "name": out_dir.name,
        "arch": run["arch"],
        "kwargs": run["arch_kwargs"],
        "input_size": cfg.input_size,
        "in_channels": spec.in_channels,  # 4: the face-hull mask is a fourth input plane
        # Align scan crops at this size and let LoadedDetector resize, exactly as training data was made.
        "crop_size": data.crop_size or cfg.input_size,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "bf16_inference": cfg.bf16,  # val logits (hence calibration) were computed at this precision
        "calibration": calibrator.to_dict(),
        "threshold": threshold,
        "threshold_level": "video",
        "frame_threshold": frame_threshold,
        "aggregation": {"method": "top_k_mean_logit_max_track", "top_frac": cfg.top_frac},
        "training_data": {
            "manifest_sha256": run["manifest_hash"],
            "manifests": run["manifests"],
            "exclude_methods": run["exclude_methods"],
            "sbi_fraction": cfg.sbi_fraction,
            "counts": run["counts"],
            **({"init": run["init"], "init_sha256": run.get("init_sha256")} if run.get("init") else {}),
        },
        "metrics": metrics,
        "code": run["code"],
    }
    save_model(model, config, out_dir)
    record = dict(run, finished=True, history=prog.history, metrics=metrics)
    write_text_atomic(out_dir / "run.json", json.dumps(record, indent=2) + "\n")
    return TrainResult(out_dir, metrics, prog.best_epoch, prog.epoch, prog.stopped)
