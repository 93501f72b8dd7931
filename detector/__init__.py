"""CNN deepfake detectors: registry, architectures, training, calibration, inference, shipped weights.

Importing the package loads nothing heavy: the names below are resolved on first access, and
architectures are only built by ``create_detector`` / ``load_model``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "register_detector": "registry",
    "create_detector": "registry",
    "list_detectors": "registry",
    "load_model": "io",
    "save_model": "io",
    "list_weights": "io",
    "LoadedDetector": "io",
    "aggregate_video": "aggregate",
    "catalog": "catalog",
    "explain_crops": "gradcam",
    "overlay_heatmap": "gradcam",
    "train_detector": "train",
    "TrainConfig": "train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
