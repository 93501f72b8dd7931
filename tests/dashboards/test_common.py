from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.common import new_output_dir


def test_output_folders_are_never_reused_or_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKESCOPE_DASHBOARD_DIR", str(tmp_path))
    first = new_output_dir("testsets", "ts1")
    assert first == tmp_path / "testsets" / "ts1" and first.is_dir()
    with pytest.raises(ValueError, match="already exists"):
        new_output_dir("testsets", "ts1")  # a second build would mix two test sets in one manifest
    with pytest.raises(ValueError, match="not a usable folder name"):
        new_output_dir("testsets", "../escape")
    a, b = new_output_dir("audits"), new_output_dir("audits")
    assert a != b and a.parent == b.parent == tmp_path / "audits"
