"""Atomic writes for generator runs: the core writers plus PNG encoding for previews and strips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.atomicio import write_bytes_atomic as atomic_write_bytes
from fakescope.atomicio import write_text_atomic as atomic_write_text

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_png", "atomic_write_text"]


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def atomic_write_png(path: Path, image_bgr: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ValueError(f"could not encode a {image_bgr.shape} image as PNG for {path}")
    atomic_write_bytes(path, buf.tobytes())
