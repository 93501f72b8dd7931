"""Dashboard settings read from the environment, kept free of streamlit so the CLI can read them
cheaply (``fakescope dashboard`` passes the upload ceiling to ``streamlit run``)."""

from __future__ import annotations

import os
from pathlib import Path

from fakescope.caselog import default_db_path

DEFAULT_MAX_UPLOAD_MB = 500


def env_max_upload_mb() -> int:
    """Server-wide upload ceiling: $FAKESCOPE_MAX_UPLOAD_MB (whole MB, at least 1), default 500."""
    raw = os.environ.get("FAKESCOPE_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"FAKESCOPE_MAX_UPLOAD_MB must be a whole number of megabytes, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"FAKESCOPE_MAX_UPLOAD_MB must be at least 1, got {value}")
    return value


def workspace() -> Path:
    """Where the dashboard keeps what it makes (reports, audits, test sets):
    $FAKESCOPE_DASHBOARD_DIR, else a ``dashboard`` folder beside the case log."""
    env = os.environ.get("FAKESCOPE_DASHBOARD_DIR")
    return Path(env) if env else default_db_path().parent / "dashboard"
