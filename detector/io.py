"""Saving and loading trained detectors: ``model.safetensors`` + ``config.json`` per directory.

Weights never go through pickle, so a model directory handed in by a user can be loaded safely:
the architecture is rebuilt from its registry name and only tensors are read. ``config.json`` is
written last, so a directory with a config is always complete.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from detector.calibration import Calibrator, calibrator_from_dict
from detector.familiarity import Familiarity, capture_features, validate_familiarity
from detector.registry import create_detector, detector_spec
from fakescope.core.atomicio import write_bytes_atomic, write_text_atomic
from fakescope.core.device import resolve_device
from fakescope.core.hashing import sha256_file

if TYPE_CHECKING:
    from generator.attacks import AttackTarget

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
REQUIRED_KEYS = ("arch", "kwargs", "input_size", "mean", "std")


def weights_root() -> Path:
    """Where shipped models live, one sub-directory per name (``default`` is what scan uses)."""
    return Path(__file__).resolve().parent / "weights"


FUSION_FILE = "fusion.json"


def shipped_fusion_file() -> Path:
    """The fusion model fitted on the shipped default detector's outputs (it lives beside its weights)."""
    return weights_root() / "default" / FUSION_FILE


def list_weights() -> list[str]:
    """Names of shipped models that ``load_model(name)`` resolves."""
    root = weights_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CONFIG_FILE).is_file())


def atomic_save_tensors(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """safetensors bytes written atomically (never a half-written weights file after a crash)."""
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    write_bytes_atomic(path, save(flat, metadata=metadata))


def save_model(model: nn.Module, config: dict[str, Any], out_dir: Path | str) -> Path:
    """Write weights then config into ``out_dir``; returns the directory.

    ``config`` must name the registered ``arch`` and its ``kwargs`` plus ``input_size``, ``mean`` and
    ``std``; anything else (calibration, threshold, data hash, metrics) is stored as given.
    """
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ValueError(f"model config lacks {missing}; it must hold {list(REQUIRED_KEYS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_save_tensors(out / WEIGHTS_FILE, model.state_dict(), metadata={"arch": str(config["arch"])})
    full = dict(config, weights_sha256=sha256_file(out / WEIGHTS_FILE))
    write_text_atomic(out / CONFIG_FILE, json.dumps(full, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return out


def resolve_model_dir(dir_or_name: Path | str) -> Path:
    """A bare name of a shipped model resolves under ``detector/weights/``; anything else is a path."""
    s = str(dir_or_name)
    if s and "/" not in s and os.sep not in s and (weights_root() / s).is_dir():
        return weights_root() / s
    if Path(s).is_dir():
        return Path(s)
    names = ", ".join(list_weights()) or "none installed"
    raise ValueError(
        f"detector {s!r} is neither a model directory nor a shipped model name (shipped: {names}); "
        "pass a directory written by 'fakescope detector train'"
    )


def mask_plane(masks: np.ndarray, size: int) -> torch.Tensor:
    """Face-hull masks (N, H, W), uint8 0-255 or float in [0, 1] -> (N, 1, S, S) float in [-1, 1]."""
    m = np.asarray(masks)
    if m.ndim != 3:
        raise ValueError(f"expected face masks as an array (N, H, W), got shape {m.shape}")
    m = m.astype(np.float32) / 255.0 if m.dtype == np.uint8 else np.clip(m.astype(np.float32), 0.0, 1.0)
    if m.shape[1:3] != (size, size):
        m = np.stack([cv2.resize(x, (size, size), interpolation=cv2.INTER_LINEAR) for x in m]) if len(m) else (
            np.zeros((0, size, size), np.float32))
    return torch.from_numpy(np.ascontiguousarray(m)).mul_(2.0).sub_(1.0)[:, None]


def preprocess_crops(
    crops_bgr_uint8: np.ndarray,
    size: int,
    mean: list[float] | tuple[float, ...],
    std: list[float] | tuple[float, ...],
    masks: np.ndarray | None = None,
) -> torch.Tensor:
    """(N, H, W, 3) uint8 BGR -> normalised (N, 3, S, S) float RGB, resizing when H, W != S.

    With ``masks`` (N, H, W) the face-hull mask is appended as a fourth plane in [-1, 1], for
    architectures registered with ``in_channels=4``. Training and inference both go through here
    so a model never sees differently prepared pixels.
    """
    crops = np.asarray(crops_bgr_uint8)
    if crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
        raise ValueError(
            f"expected face crops as a uint8 array (N, H, W, 3) BGR, got {crops.dtype} {crops.shape}"
        )
    if crops.shape[1:3] != (size, size):
        interp = cv2.INTER_AREA if crops.shape[1] > size else cv2.INTER_LINEAR
        resized = [cv2.resize(c, (size, size), interpolation=interp) for c in crops]
        crops = np.stack(resized) if resized else np.zeros((0, size, size, 3), np.uint8)
    # One float pass in NHWC order; the NCHW permute is then a free view that is already channels_last.
    scale = 1.0 / (255.0 * torch.tensor(std, dtype=torch.float32))
    bias = -torch.tensor(mean, dtype=torch.float32) / torch.tensor(std, dtype=torch.float32)
    x = torch.from_numpy(np.ascontiguousarray(crops)).flip(-1).float()  # BGR -> RGB
    x = x.mul_(scale).add_(bias).permute(0, 3, 1, 2)
    if masks is None:
        return x
    if len(masks) != len(x):
        raise ValueError(f"got {len(masks)} face masks for {len(x)} crops; pass one mask per crop")
    return torch.cat([x, mask_plane(masks, size)], dim=1).contiguous(memory_format=torch.channels_last)


@dataclass(frozen=True)
class LoadedDetector:
    """A ready-to-run detector: eval-mode model plus the preprocessing and calibration it was trained with."""

    model: nn.Module
    config: dict[str, Any]
    name: str
    sha256: str
    path: Path
    calibrator: Calibrator = field(repr=False)

    @property
    def input_size(self) -> int:
        return int(self.config["input_size"])

    @property
    def crop_size(self) -> int:
        """Side of the aligned crops the training data used; request crops at this size so the
        resize to ``input_size`` happens here, as it did in training (resampling leaves traces)."""
        return int(self.config.get("crop_size", self.input_size))

    @property
    def top_frac(self) -> float:
        """Top-k fraction for ``aggregate_video`` that the threshold was chosen with."""
        return float(self.config.get("aggregation", {}).get("top_frac", 0.25))

    @property
    def needs_mask(self) -> bool:
        """The architecture takes the aligned face's hull mask as a fourth input plane."""
        return detector_spec(self.config["arch"]).needs_mask

    @property
    def threshold(self) -> float:
        """Decision threshold on calibrated video probability, chosen on validation data."""
        return float(self.config.get("threshold", 0.5))

    def _masks_for(self, masks: np.ndarray | None) -> np.ndarray | None:
        if not self.needs_mask:
            return None  # an RGB model ignores masks, so callers may always pass them
        if masks is None:
            raise ValueError(
                f"detector {self.name!r} ({self.config['arch']}) also reads the face-hull mask; pass masks= "
                "(AlignedFace.mask of each crop, or the 'masks' array of a test set's crops)"
            )
        return masks

    def preprocess(self, crops_bgr_uint8: np.ndarray, masks: np.ndarray | None = None) -> torch.Tensor:
        return preprocess_crops(
            crops_bgr_uint8, self.input_size, self.config["mean"], self.config["std"], self._masks_for(masks)
        )

    def normalise(self, rgb01: torch.Tensor, masks: np.ndarray | None = None) -> torch.Tensor:
        """(B, 3, S, S) RGB in [0, 1] -> model input. Differentiable, for attacks (FGSM/PGD) that
        need gradients with respect to pixels; ``self.model(self.normalise(x))`` gives logits."""
        m = torch.tensor(self.config["mean"], dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
        s = torch.tensor(self.config["std"], dtype=rgb01.dtype, device=rgb01.device).view(1, 3, 1, 1)
        x = (rgb01 - m) / s
        masks = self._masks_for(masks)
        return x if masks is None else torch.cat([x, mask_plane(masks, x.shape[-1]).to(x.device, x.dtype)], dim=1)

    def attack_target(self) -> AttackTarget:
        """This detector as generator.attacks sees it: differentiable logits and the video score."""
        import torch.nn.functional as F

        from detector.aggregate import aggregate_video
        from generator.attacks import AttackTarget

        def logits(x_rgb01: torch.Tensor, masks: np.ndarray | None) -> torch.Tensor:
            self.model.eval()
            if x_rgb01.shape[-1] != self.input_size:
                x_rgb01 = F.interpolate(x_rgb01, size=(self.input_size, self.input_size), mode="area")
            return self.model(self.normalise(x_rgb01.to(self.device), masks)).cpu()

        def video_score(images: np.ndarray, masks: np.ndarray | None) -> float:
            z = self.predict_logits(images, masks=masks)
            n = len(z)
            return float(aggregate_video(np.zeros(n, int), np.arange(n), z, self.calibrator,
                                         top_frac=self.top_frac).probability)

        return AttackTarget(self.name, self.sha256, self.crop_size, logits, video_score)

    def predict_logits(
        self, crops_bgr_uint8: np.ndarray, batch_size: int = 64, bf16: bool | None = None,
        masks: np.ndarray | None = None,
    ) -> np.ndarray:
        """Raw logits (N,) for aligned face crops; batched to bound memory.

        ``bf16=None`` uses the precision the model was calibrated with (config ``bf16_inference``).
        ``masks`` (N, H, W) are the crops' face hulls; required when ``needs_mask``, else ignored.
        """
        logits, distance = self.predict_logits_and_distance(crops_bgr_uint8, batch_size, bf16, masks)
        if self.familiarity is None:
            return logits
        return (logits * self.familiarity.shrink(distance)).astype(np.float32)

    @cached_property
    def familiarity(self) -> Familiarity | None:
        """How far from its training crops a crop may be before its logit is shrunk (detector.familiarity);
        parsed once per loaded model, not per batch."""
        d = self.config.get("familiarity")
        return None if d is None else Familiarity.from_dict(d)

    def predict_logits_and_distance(
        self, crops_bgr_uint8: np.ndarray, batch_size: int = 64, bf16: bool | None = None,
        masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw logits (N,) before any shrinking, and each crop's familiarity distance (NaN without
        familiarity statistics)."""
        bf16 = bool(self.config.get("bf16_inference", False)) if bf16 is None else bf16
        masks = self._masks_for(masks)
        n = len(crops_bgr_uint8)
        out = np.empty(n, dtype=np.float32)
        dev = self.device
        fam = self.familiarity
        ctx = capture_features(self.model) if fam is not None else contextlib.nullcontext([])
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16), ctx as feats:
            for i in range(0, n, batch_size):
                part = None if masks is None else masks[i : i + batch_size]
                x = self.preprocess(crops_bgr_uint8[i : i + batch_size], part).to(dev)
                out[i : i + len(x)] = self.model(x).float().cpu().numpy()
        if fam is None or not feats:
            return out, np.full(n, np.nan)
        return out, fam.distance(torch.cat(feats).numpy())

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def predict_proba(
        self, crops_bgr_uint8: np.ndarray, batch_size: int = 64, bf16: bool | None = None,
        masks: np.ndarray | None = None,
    ) -> np.ndarray:
        """Calibrated P(fake) per crop (N,)."""
        return self.calibrator.predict_proba(self.predict_logits(crops_bgr_uint8, batch_size, bf16, masks))


MAX_INPUT_SIZE = 1024  # px: a CNN input past this is a typo, and would try multi-GB allocations
CALIBRATION_METHODS = ("temperature", "isotonic", "none")


def _number(where: str, value: Any, low: float, high: float, *, integer: bool = False,
            open_low: bool = False) -> float:
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise ValueError(f"{where} must be {kind}, got {value!r}")
    if not (math.isfinite(value) and (value > low if open_low else value >= low) and value <= high):
        bound = f"{'above' if open_low else 'at least'} {low:g} and at most {high:g}"
        raise ValueError(f"{where} must be {bound}, got {value!r}")
    return float(value)


def validate_model_config(config: Any, where: str) -> None:
    """Check a model's config.json field by field before anything is built from it.

    A model directory may come from anyone: a list where a name belongs, an unknown keyword, a
    temperature of 0 (every verdict a silent "real") or an input size of 40000 (multi-GB tensors)
    must be refused with the field named, not crash or mislead later."""
    if not isinstance(config, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(config).__name__}")
    arch = config["arch"]
    if not isinstance(arch, str):
        raise ValueError(f"{where}: field 'arch' must be an architecture name, got {arch!r}")
    try:
        spec = detector_spec(arch)
    except ValueError as exc:  # names the registered architectures
        raise ValueError(f"{where}: {exc}") from None
    kwargs = config["kwargs"]
    if not isinstance(kwargs, dict):
        raise ValueError(f"{where}: field 'kwargs' must be a JSON object, got {kwargs!r}")
    params = inspect.signature(spec.factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise ValueError(f"{where}: field 'kwargs' has unknown keyword(s) {', '.join(map(repr, unknown))} for "
                             f"{arch!r}; it takes {', '.join(params) or 'none'}")
    _number(f"{where}: field 'input_size'", config["input_size"], 16, MAX_INPUT_SIZE, integer=True)
    if "crop_size" in config:
        _number(f"{where}: field 'crop_size'", config["crop_size"], 16, 2 * MAX_INPUT_SIZE, integer=True)
    for key in ("mean", "std"):
        v = config[key]
        if not isinstance(v, list) or len(v) != 3:
            raise ValueError(f"{where}: field {key!r} must be a list of 3 numbers (R, G, B), got {v!r}")
        for x in v:
            _number(f"{where}: field {key!r}", x, 0.0 if key == "std" else -10.0, 10.0, open_low=key == "std")
    for key in ("threshold", "frame_threshold"):
        if config.get(key) is not None:
            _number(f"{where}: field {key!r}", config[key], 0.0, 1.0)
    if "name" in config and not isinstance(config["name"], str):
        raise ValueError(f"{where}: field 'name' must be a string, got {config['name']!r}")
    agg = config.get("aggregation", {})
    if not isinstance(agg, dict):
        raise ValueError(f"{where}: field 'aggregation' must be a JSON object, got {agg!r}")
    if "top_frac" in agg:
        _number(f"{where}: field 'aggregation.top_frac'", agg["top_frac"], 0.0, 1.0, open_low=True)
    if "familiarity" in config:
        validate_familiarity(config["familiarity"], where)
    cal = config.get("calibration")
    if cal is None:
        return
    if not isinstance(cal, dict):
        raise ValueError(f"{where}: field 'calibration' must be a JSON object, got {cal!r}")
    method = cal.get("method", "none")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"{where}: field 'calibration.method' must be one of {', '.join(CALIBRATION_METHODS)}, "
                         f"got {method!r}")
    if method == "temperature":
        _number(f"{where}: field 'calibration.temperature'", cal.get("temperature"), 0.0, 1e3, open_low=True)
    if method == "isotonic":
        x, y = cal.get("x"), cal.get("y")
        if not (isinstance(x, list) and isinstance(y, list) and len(x) == len(y) >= 2):
            raise ValueError(f"{where}: fields 'calibration.x' and 'calibration.y' must be lists of equal length")
        for v in y:
            _number(f"{where}: field 'calibration.y'", v, 0.0, 1.0)


def load_model(dir_or_name: Path | str = "default", device: str = "cpu") -> LoadedDetector:
    """Rebuild a detector from a model directory or shipped name; reads tensors only (no pickle).

    ``device``: cpu (the default), cuda or auto (fakescope.core.device)."""
    d = resolve_model_dir(dir_or_name)
    missing = [f for f in (WEIGHTS_FILE, CONFIG_FILE) if not (d / f).is_file()]
    if missing:
        raise ValueError(
            f"model directory {d} lacks {', '.join(missing)}; it must hold {WEIGHTS_FILE} and {CONFIG_FILE} "
            "as written by detector.io.save_model"
        )
    try:
        config = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{d / CONFIG_FILE} is not valid JSON ({e}); re-export the model") from e
    if not isinstance(config, dict):
        raise ValueError(f"{d / CONFIG_FILE}: expected a JSON object, got {type(config).__name__}")
    lacking = [k for k in REQUIRED_KEYS if k not in config]
    if lacking:
        raise ValueError(f"{d / CONFIG_FILE} lacks {lacking}; it was not written by detector.io.save_model")
    validate_model_config(config, str(d / CONFIG_FILE))
    sha = sha256_file(d / WEIGHTS_FILE)
    if config.get("weights_sha256", sha) != sha:
        raise ValueError(
            f"{d / WEIGHTS_FILE} is not the file {CONFIG_FILE} was written for (sha256 differs); re-export"
        )
    model = create_detector(config["arch"], **config["kwargs"])
    try:
        model.load_state_dict(load_file(d / WEIGHTS_FILE), strict=True)
    except (RuntimeError, OSError, SafetensorError) as e:
        raise ValueError(f"{d / WEIGHTS_FILE} does not match architecture {config['arch']!r}: {e}") from e
    model = model.eval().to(resolve_device(device), memory_format=torch.channels_last)
    return LoadedDetector(
        model=model,
        config=config,
        name=str(config.get("name") or d.name),
        sha256=sha,
        path=d,
        calibrator=calibrator_from_dict(config.get("calibration")),
    )
