"""Which torch device a run uses: ``auto`` (CUDA when present, else the CPU), ``cpu`` or ``cuda``.

The CPU is the tested default; CUDA is used only when asked for or when ``auto`` finds one, and
asking for CUDA on a machine without it is a usage error, not a silent fall-back.
"""

from __future__ import annotations

from typing import Any

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> Any:
    """``torch.device`` for ``name``; ValueError (what to pass instead) for an unknown or absent one."""
    import torch

    if name not in DEVICES and not name.startswith("cuda:"):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: no CUDA device on this machine; use --device cpu (or auto)")
    return torch.device(name)
