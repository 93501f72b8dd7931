"""Converting dlib's model file into a `detector train --init` folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from detector.dlib_import import DLIB_FILE, dlib_state_dict, import_dlib
from detector.pretrain import RECORD_FILE, init_features
from detector.registry import create_detector
from fakescope.cli import main
from fakescope.core.faces import model_path


def test_import_writes_an_init_that_loads_dlibs_trunk_and_leaves_the_head(tmp_path: Path) -> None:
    out = import_dlib(tmp_path / "dlib")
    rec = json.loads((out / RECORD_FILE).read_text())
    assert rec["arch"] == "dlib_resnet" and rec["source"] == DLIB_FILE and len(rec["source_sha256"]) == 64
    torch.manual_seed(0)
    m = create_detector("dlib_resnet")
    head = m.head[1].weight.detach().clone()
    init_features(m, out, "dlib_resnet", {})
    ref = dlib_state_dict()
    for k, v in m.features.state_dict().items():
        assert torch.equal(v, ref[f"features.{k}"]), k
    assert torch.equal(m.head[1].weight, head)


def test_an_init_of_dlibs_net_refuses_another_architecture(tmp_path: Path) -> None:
    out = import_dlib(tmp_path / "dlib")
    with pytest.raises(ValueError, match="pretrained dlib_resnet"):
        init_features(create_detector("meso4"), out, "meso4", {})


def test_a_truncated_or_foreign_model_file_is_refused(tmp_path: Path) -> None:
    data = model_path(DLIB_FILE).read_bytes()
    cut = tmp_path / "cut.dat"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="found .* conv .* layers|truncated"):
        dlib_state_dict(cut)
    other = tmp_path / "other.dat"
    other.write_bytes(model_path("shape_predictor_5_face_landmarks.dat").read_bytes())
    with pytest.raises(ValueError, match="found 0 conv"):
        dlib_state_dict(other)


def test_cli_import_dlib(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detector", "import-dlib", "--out", str(tmp_path / "d")]) == 0
    assert "--arch dlib_resnet" in capsys.readouterr().out
    assert (tmp_path / "d" / "pretrain.safetensors").is_file()
