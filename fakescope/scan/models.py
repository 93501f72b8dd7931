"""The trained detectors a scan can use: names to offer, and loading one (safetensors only).

The dashboard and other front ends go through here rather than importing detector internals,
so they offer exactly the models `fakescope detector list` shows and load them the CLI's way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def shipped_detectors() -> list[str]:
    """Names of the shipped trained models, ``default`` first."""
    from detector.catalog import catalog

    names = [e.name for e in catalog() if e.kind == "model"]
    return sorted(names, key=lambda n: (n != "default", n))


def load_detector(name_or_dir: str | Path) -> Any:
    """A loaded detector (``detector.io.LoadedDetector``); ValueError names what is wrong with it."""
    from detector.io import load_model

    return load_model(name_or_dir)
