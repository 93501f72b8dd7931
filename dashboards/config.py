"""Dashboard settings read from the environment (no streamlit import, so tests read them cheaply)."""

from __future__ import annotations

import os
from pathlib import Path

from fakescope.core.paths import env_max_upload_mb
from fakescope.scan.caselog import default_db_path

__all__ = ["env_max_upload_mb", "workspace"]

def workspace() -> Path:
    """Where the dashboard keeps what it makes (reports, audits, test sets):
    $FAKESCOPE_DASHBOARD_DIR, else a ``dashboard`` folder beside the case log."""
    env = os.environ.get("FAKESCOPE_DASHBOARD_DIR")
    return Path(env) if env else default_db_path().parent / "dashboard"
