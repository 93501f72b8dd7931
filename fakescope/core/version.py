"""The code-version record every run directory and shipped model carries.

A run is only reproducible if we know exactly which code made it: the package version, the torch
version, the git commit of the checkout and whether it had uncommitted edits (None when the code
is not a git checkout, e.g. an installed wheel).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def code_version() -> dict[str, Any]:
    """{"fakescope", "torch", "git_commit", "dirty"} for the code this process runs."""
    from fakescope import __version__

    info: dict[str, Any] = {"fakescope": __version__, "torch": None, "git_commit": None, "dirty": None}
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    root = Path(__file__).resolve().parents[2]
    try:
        git = ["git", "-C", str(root)]
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            status = subprocess.run([*git, "status", "--porcelain", "--", "fakescope", "generator", "detector",
                                     "forensics"], capture_output=True, text=True, timeout=10)
            info["dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info
