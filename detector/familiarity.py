"""How familiar a crop looks to the detector, and a logit shrunk toward "don't know" when it is not.

Why: a detector trained on our own fakes and reals is confident everywhere, including on faces from
cameras, codecs and generators it never saw; on third-party deepfakes it said P(fake) 0.01-0.05 to
fakes (crossdataset/dfdc_faces ECE 0.21). Temperature scaling fitted on our validation split
cannot fix that, since the validation split is familiar data. Here familiarity is measured where
the model decides: the features entering its head (or final linear layer), averaged over space. On the training crops we store
each feature's mean and spread; a crop's distance is the root mean square of its standardised
features. Up to ``edge`` (the training crops' ``quantile``) the logit is kept; beyond it the logit
is multiplied by ``(edge / distance) ** power``, so an unfamiliar crop's verdict moves toward 0.5
and the verdict's ``inconclusive`` band catches it instead of a confident wrong answer.

Stored in the model's config.json as ``familiarity`` (plain numbers, validated on load).
``fakescope detector familiarity MODEL_DIR --data TESTSET`` fits it (detector.familiarity_fit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

QUANTILE = 0.95
POWER = 2.0


@dataclass(frozen=True)
class Familiarity:
    mean: np.ndarray
    std: np.ndarray
    edge: float  # distance of the training crops' QUANTILE
    median: float
    power: float = POWER

    def distance(self, features: np.ndarray) -> np.ndarray:
        z = (np.asarray(features, np.float64) - self.mean) / self.std
        return np.sqrt(np.mean(z**2, axis=1))

    def shrink(self, distance: np.ndarray) -> np.ndarray:
        """Factor in (0, 1] for each crop's logit: 1 up to ``edge``, then ``(edge / d) ** power``."""
        d = np.asarray(distance, np.float64)
        return np.where(d <= self.edge, 1.0, (self.edge / np.maximum(d, 1e-12)) ** self.power)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": [round(float(x), 6) for x in self.mean], "std": [round(float(x), 6) for x in self.std],
                "edge": round(self.edge, 6), "median": round(self.median, 6), "power": self.power,
                "quantile": QUANTILE}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Familiarity:
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64), float(d["edge"]),
                   float(d["median"]), float(d.get("power", POWER)))


def fit_familiarity(features: np.ndarray, quantile: float = QUANTILE, power: float = POWER) -> Familiarity:
    """From the features of the training crops (N x D)."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or len(f) < 20:
        raise ValueError(f"familiarity needs the features of at least 20 training crops, got {f.shape}")
    mean, std = f.mean(axis=0), f.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    fam = Familiarity(mean, std, 1.0, 1.0, power)
    d = fam.distance(f)
    return Familiarity(mean, std, float(np.quantile(d, quantile)), float(np.median(d)), power)


def feature_module(model: nn.Module) -> nn.Module:
    """The module whose input holds the features the decision is made from: the model's ``head``
    when it has one (e.g. Meso-4's contrast head), else its last linear layer."""
    head = getattr(model, "head", None)
    if isinstance(head, nn.Module):
        return head
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            last = m
    if last is None:
        raise ValueError(f"{type(model).__name__} has neither a head nor a linear layer to read features from")
    return last


@contextmanager
def capture_features(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """While active, every forward pass appends the features entering ``feature_module`` (B x D,
    float32, CPU); feature maps are averaged over space to one value per channel."""
    out: list[torch.Tensor] = []

    def hook(_mod: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        t = args[0].detach().float()
        out.append((t.mean(dim=(2, 3)) if t.ndim == 4 else t.flatten(1)).cpu())

    handle = feature_module(model).register_forward_pre_hook(hook)
    try:
        yield out
    finally:
        handle.remove()


def validate_familiarity(d: Any, where: str) -> None:
    """Refuse a ``familiarity`` block that is not plain, consistent numbers."""
    if not isinstance(d, dict):
        raise ValueError(f"{where}: field 'familiarity' must be a JSON object")
    mean, std = d.get("mean"), d.get("std")
    if not (isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) >= 1):
        raise ValueError(f"{where}: fields 'familiarity.mean' and 'familiarity.std' must be lists of equal length")
    values = [*mean, *std, d.get("edge"), d.get("median"), d.get("power", POWER)]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in values):
        raise ValueError(f"{where}: field 'familiarity' must hold finite numbers only")
    if min(std) <= 0 or d["edge"] <= 0 or d.get("power", POWER) < 0:
        raise ValueError(f"{where}: field 'familiarity' needs positive spreads, edge and a power >= 0")


def crop_features(detector: Any, crops_bgr: np.ndarray, masks: np.ndarray | None = None,
                  batch_size: int = 128) -> np.ndarray:
    """The features (N x D) a loaded detector (detector.io.LoadedDetector) decides from, for aligned crops."""
    with torch.inference_mode(), capture_features(detector.model) as feats:
        for i in range(0, len(crops_bgr), batch_size):
            part = None if masks is None else masks[i:i + batch_size]
            detector.model(detector.preprocess(crops_bgr[i:i + batch_size], part).to(detector.device))
    return torch.cat(feats).numpy() if feats else np.zeros((0, 0))

