import json
from pathlib import Path

import pytest

from fakescope.cli import main


@pytest.mark.slow
def test_audit_cli_reports_bad_rows_and_audits_the_rest(tmp_path: Path, talking_head: Path, no_face_video: Path,
                                                        capsys) -> None:  # noqa: ANN001
    (tmp_path / "notes.mp4").write_text("not a video")
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "path,label\n"
        f"{talking_head},real\n"
        f"{no_face_video},fake\n"
        "missing.mp4,real\n"
        f"{talking_head},maybe\n"
        "notes.mp4,fake\n"
    )
    out = tmp_path / "audit"
    code = main(["audit", "--data", str(csv), "--out", str(out), "--n-boot", "50", "--quiet"])
    assert code == 0
    err = capsys.readouterr().err.splitlines()
    assert [ln for ln in err if "line 4" in ln and "missing.mp4" in ln]
    assert [ln for ln in err if "line 5" in ln]
    assert [ln for ln in err if "line 6" in ln and "notes.mp4" in ln]
    metrics = json.loads((out / "metrics.json").read_text())
    assert "fused" in json.dumps(metrics)
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
