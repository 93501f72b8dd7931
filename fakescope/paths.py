"""Per-user file locations (case log, provenance registry), overridable by environment variables."""

from __future__ import annotations

import os
from pathlib import Path


def user_data_file(env_var: str, name: str) -> Path:
    """``$env_var`` when set, else ``$XDG_DATA_HOME/fakescope/name`` (``~/.local/share`` by default)."""
    if env := os.environ.get(env_var):
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "fakescope" / name
