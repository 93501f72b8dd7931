"""Shared helpers for the dashboard tests: an isolated workspace and case log, AppTest builders."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FAKE_CLIP = FIXTURES / "fake_selfblend.mp4"
REAL_CLIP = FIXTURES / "talking_head.mp4"
APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
TIMEOUT = 180  # seconds per AppTest run: scans on a busy 2-core machine are slow, not hung


@pytest.fixture
def dash_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Workspace and case log under tmp_path, the default upload ceiling; returns the workspace."""
    ws = tmp_path / "workspace"
    monkeypatch.setenv("FAKESCOPE_DASHBOARD_DIR", str(ws))
    monkeypatch.setenv("FAKESCOPE_CASES_DB", str(tmp_path / "cases.db"))
    monkeypatch.delenv("FAKESCOPE_MAX_UPLOAD_MB", raising=False)
    monkeypatch.delenv("FAKESCOPE_DATA_DIR", raising=False)
    return ws


def page_test(name: str) -> AppTest:
    """AppTest of one page module with the real sidebar settings (the app's navigation picks pages
    by URL, which AppTest cannot follow for pages given as functions)."""
    from streamlit.testing.v1 import AppTest

    script = ("from dashboards.common import sidebar_settings\n"
              f"from dashboards.views import {name} as page\n"
              "page.render(sidebar_settings())\n")
    return AppTest.from_string(script, default_timeout=TIMEOUT)


def rendered(markdown: str) -> str:
    """What a browser shows for Markdown built with dashboards.common.plain(): the text without its
    backslash escapes and invisible word joiners (other Markdown is ignored: the pages' own is simple)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")
