"""Per-user file locations and limits (case log, provenance registry, upload ceiling), from the environment."""

from __future__ import annotations

import os
from pathlib import Path


def user_data_file(env_var: str, name: str) -> Path:
    """``$env_var`` when set, else ``$XDG_DATA_HOME/fakescope/name`` (``~/.local/share`` by default)."""
    if env := os.environ.get(env_var):
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "fakescope" / name


DEFAULT_MAX_UPLOAD_MB = 500


def env_max_upload_mb() -> int:
    """Server-wide upload ceiling: $FAKESCOPE_MAX_UPLOAD_MB (whole MB, at least 1), default 500.

    Read by ``fakescope dashboard`` (it hands the ceiling to Streamlit) and by the dashboard itself."""
    raw = os.environ.get("FAKESCOPE_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"FAKESCOPE_MAX_UPLOAD_MB must be a whole number of megabytes, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"FAKESCOPE_MAX_UPLOAD_MB must be at least 1, got {value}")
    return value
