"""Audit, Generate and Cases pages with AppTest, on the bundled clips and a seconds-long generator run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fakescope.scan.caselog import append_case, list_cases
from tests.dashboards.conftest import FAKE_CLIP, FIXTURES, REAL_CLIP, page_test, rendered


@pytest.mark.slow
def test_audit_of_an_uploaded_csv_shows_metrics_and_plots(dash_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKESCOPE_DATA_DIR", str(FIXTURES))  # the clips' folder is a data root
    at = page_test("audit").run()
    assert not at.exception
    at.button(key="audit_run").click().run()
    assert "pick a test set" in at.error[0].value  # nothing chosen: a plain message, no traceback

    csv = (f"path,label,method\n{REAL_CLIP.name},real,\n{FAKE_CLIP.name},fake,self_blend\n"
           "missing.mp4,fake,warp\n").encode()
    at.file_uploader(key="audit_csv").set_value(("labels.csv", csv, "text/csv"))
    assert str(FIXTURES.resolve()) in at.selectbox(key="audit_base").options  # folders in the roots only
    at.selectbox(key="audit_base").set_value(str(FIXTURES.resolve()))
    at.number_input(key="audit_n_boot").set_value(20)
    at.button(key="audit_run").click().run()
    assert not at.exception and not at.error

    table = at.dataframe[0].value
    assert {"detector:default", "blink", "edges", "spectrum", "fused"} <= set(table["scorer"])
    assert set(table["videos"]) == {2}
    auc = table.set_index("scorer").loc["edges", "AUC"]
    assert auc != "-" and 0.0 <= float(auc) <= 1.0
    skipped = at.dataframe[1].value
    assert len(skipped) == 1 and "missing.mp4" in skipped["path"].iloc[0]
    assert skipped["source"].iloc[0] == "uploaded labels.csv" and skipped["row_number"].iloc[0] == 4
    assert len(at.image) >= 4  # ROC, PR, reliability, histograms
    out = next((dash_env / "audits").iterdir())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_items"] == 2 and metrics["bootstrap"]["n_boot"] == 20
    assert (out / "report.html").is_file() and (out / "roc.png").is_file()


@pytest.mark.slow
def test_generate_builds_a_tiny_test_set(dash_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    (data / "real").mkdir(parents=True)
    (data / "real" / REAL_CLIP.name).write_bytes(REAL_CLIP.read_bytes())
    monkeypatch.setenv("FAKESCOPE_DATA_DIR", str(data))
    at = page_test("generate").run()
    assert not at.exception
    assert at.multiselect(key="ts_real").options == [str((data / "real").resolve())]  # no free-text paths
    at.multiselect(key="ts_real").set_value([str((data / "real").resolve())])
    at.text_input(key="ts_name").set_value("tiny")
    at.number_input(key="ts_segments").set_value(1)
    at.number_input(key="ts_frames").set_value(8)
    at.multiselect(key="ts_methods").set_value(["warp"])
    at.button(key="ts_build").click().run()
    assert not at.exception and not at.error
    assert "2 items written" in at.success[0].value
    rows = at.dataframe[0].value
    assert sorted(rows["method"]) == ["real", "warp"]
    manifest = dash_env / "testsets" / "tiny" / "manifest.csv"
    assert manifest.is_file()

    at.text_input(key="ts_name").set_value("../escape")
    at.button(key="ts_build").click().run()
    assert "not a usable folder name" in at.error[0].value
    assert not (dash_env / "escape").exists()


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    import torch

    from generator.train import train_facesets
    from tests.generator.conftest import TINY, synthetic_faceset

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = tmp_path / "run"
        train_facesets({"alice": synthetic_faceset("alice", seed=1), "bob": synthetic_faceset("bob", seed=2)},
                       run, TINY, max_steps=2, progress=False, threads=None)
    finally:
        torch.set_num_threads(before)
    return run


@pytest.mark.slow
def test_generate_swap_preview_of_a_trained_run(dash_env: Path, tiny_run: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKESCOPE_DATA_DIR", str(tiny_run.parent))  # runs are picked from the data roots
    untrained = dash_env / "runs" / "untrained"
    untrained.mkdir(parents=True)
    (untrained / "run.json").write_text("{}")
    at = page_test("generate").run()
    assert not at.exception
    at.selectbox(key="sw_run").set_value(str(tiny_run.resolve())).run()
    assert not at.error
    assert set(at.selectbox(key="sw_to").options) == {"alice", "bob"}
    at.selectbox(key="sw_to").set_value("bob")
    at.file_uploader(key="sw_upload").set_value(("person.mp4", REAL_CLIP.read_bytes(), "video/mp4"))
    at.slider(key="sw_n").set_value(2)
    at.checkbox(key="sw_whole").check().run()
    at.button(key="sw_go").click().run()
    assert not at.exception and not at.error
    captions = [c for i in at.image for c in i.captions]
    assert len(captions) == 4 and sum("swapped to bob" in c for c in captions) == 2
    assert at.download_button[0].label == "Download the swapped video"
    assert any("192 of 192 frames swapped" in c.value for c in at.main.caption)

    at.selectbox(key="sw_run").set_value(str(untrained.resolve())).run()
    assert "has no checkpoint" in rendered(at.error[0].value)


def _report(tmp: Path, name: str) -> Path:
    p = tmp / f"{name}.html"
    p.write_text(f"<html><body><h1>report of {name}</h1></body></html>", encoding="utf-8")
    return p


def test_cases_are_searchable_and_link_to_their_reports(dash_env: Path, tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    rec = {"versions": {"fakescope": "0"}}
    first = append_case(dict(rec, file="interview.mp4", sha256="ab" * 32, verdict="fake", fake_probability=0.91),
                        db, _report(tmp_path, "interview"))
    append_case(dict(rec, file="holiday.mov", sha256="cd" * 32, verdict="real", fake_probability=0.12), db, None)
    assert len(list_cases(db)) == 2

    at = page_test("cases").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["file"]) == ["holiday.mov", "interview.mp4"]  # newest first
    links = dict(zip(table["file"], table["report"], strict=True))
    assert links["interview.mp4"] == f"cases?case={first}" and pd.isna(links["holiday.mov"])  # no report kept

    at.text_input(key="case_query").set_value("INTER").run()
    assert list(at.dataframe[0].value["file"]) == ["interview.mp4"]
    at.text_input(key="case_query").set_value("cdcd").run()
    assert list(at.dataframe[0].value["file"]) == ["holiday.mov"]
    at.text_input(key="case_query").set_value("").run()
    at.multiselect(key="case_verdicts").set_value(["fake"]).run()
    assert list(at.dataframe[0].value["file"]) == ["interview.mp4"]

    linked = page_test("cases")
    linked.query_params["case"] = str(first)
    linked.run()
    assert not linked.exception
    assert "Case #1: interview.mp4" in rendered(linked.subheader[0].value)
    assert linked.download_button[0].label == "Download this report"

    missing = page_test("cases")
    missing.query_params["case"] = "99"
    missing.run()
    assert "no case #99" in missing.error[0].value


def test_reports_are_shown_with_scripts_blocked() -> None:
    from dashboards.views.cases import REPORT_CSP, locked_down

    shown = locked_down("<script>alert(1)</script><html><body>x</body></html>")
    assert shown.startswith(REPORT_CSP) and shown.index("Content-Security-Policy") < shown.index("<script>")
    assert "default-src 'none'" in REPORT_CSP
