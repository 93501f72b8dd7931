from pathlib import Path

import pytest
import torch

from detector.io import save_model
from detector.registry import create_detector
from fakescope.cli import main


@pytest.fixture(scope="module")
def random_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return save_model(create_detector("meso4"), {"arch": "meso4", "kwargs": {}, "input_size": 64, "crop_size": 96,
                                                 "mean": [0.5] * 3, "std": [0.5] * 3, "name": "random"},
                      tmp_path_factory.mktemp("det"))


@pytest.mark.slow
def test_html_report_is_self_contained_and_holds_the_evidence(talking_head: Path, tmp_path: Path,
                                                             random_detector: Path) -> None:
    report = tmp_path / "r.html"
    assert main(["scan", str(talking_head), "--detector", str(random_detector), "--report", str(report),
                 "--no-log", "--quiet"]) == 0
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>")
    for alt in ('alt="per-frame scores"', 'alt="eye aspect ratio"', 'alt="heatmap frame'):
        assert alt in html
    assert "Grad-CAM" in html and "sha256" in html and "random" in html
    assert 'src="http' not in html and "<script" not in html
    assert html.count("data:image/png;base64,") >= 4
    assert "in the verdict" in html  # the analyzer table says which evidence the fused verdict weighs
