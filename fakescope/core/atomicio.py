"""The one atomic writer (bytes, text, strict JSON, PNG): a reader (dashboard, a second audit, CI) never sees a half-written file.

The temporary file lives in the target's own directory so ``os.replace`` is a same-filesystem
rename, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_UMASK: int | None = None


def _file_mode() -> int:
    """Mode a plain open() would give; mkstemp's private 0600 would hide reports from other users."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> Path:
    """``mode``: the file's permissions (e.g. 0o600 for a private key), set before any byte is written;
    default: what a plain open() would give."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _file_mode() if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2,
                      sort_keys: bool = False) -> Path:
    """Strict JSON (NaN/inf rejected): other tools parse these files, and NaN is not JSON."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, allow_nan=False, sort_keys=sort_keys) + "\n")


def write_png_atomic(path: str | os.PathLike[str], image_bgr: np.ndarray) -> Path:
    import cv2

    ok, buf = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ValueError(f"could not encode a {image_bgr.shape} image as PNG for {path}")
    return write_bytes_atomic(path, buf.tobytes())
