"""A model directory may come from anyone: every field of its config.json is checked before use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from detector.io import load_model, weights_root
from fakescope.cli import main


def _copy_default(tmp_path: Path, **changes: object) -> Path:
    d = tmp_path / "model"
    shutil.copytree(weights_root() / "default", d)
    cfg = json.loads((d / "config.json").read_text())
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            cfg[outer] = {**cfg[outer], inner: value}
        else:
            cfg[key] = value
    (d / "config.json").write_text(json.dumps(cfg))
    return d


@pytest.mark.parametrize("changes, field", [
    ({"arch": ["meso4"]}, "field 'arch' must be an architecture name"),
    ({"arch": "no_such_net"}, "unknown detector architecture 'no_such_net'"),
    ({"kwargs": {"not_a_keyword": 1}}, "unknown keyword(s) 'not_a_keyword'"),
    ({"kwargs": [1]}, "field 'kwargs' must be a JSON object"),
    ({"calibration.temperature": 0}, "field 'calibration.temperature' must be above 0"),
    ({"calibration.temperature": "1.4"}, "field 'calibration.temperature' must be a number"),
    ({"calibration.method": "magic"}, "field 'calibration.method' must be one of"),
    ({"input_size": 40000}, "field 'input_size' must be at least 16 and at most 1024"),
    ({"input_size": 128.5}, "field 'input_size' must be a whole number"),
    ({"std": [0.5, 0.0, 0.5]}, "field 'std' must be above 0"),
    ({"mean": [0.5, 0.5]}, "field 'mean' must be a list of 3 numbers"),
    ({"threshold": 1.5}, "field 'threshold' must be at least 0 and at most 1"),
    ({"aggregation": {"top_frac": 0}}, "field 'aggregation.top_frac' must be above 0"),
])
def test_a_bad_field_is_refused_by_name(tmp_path: Path, changes: dict, field: str) -> None:
    d = _copy_default(tmp_path, **changes)
    with pytest.raises(ValueError) as info:
        load_model(d)
    assert field in str(info.value) and "config.json" in str(info.value)


def test_the_scan_exits_2_with_one_line_and_scans_nothing(tmp_path: Path, talking_head: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy_default(tmp_path, **{"calibration.temperature": 0})
    out = tmp_path / "v.json"
    assert main(["scan", str(talking_head), "--detector", str(d), "--json", str(out), "--quiet", "--no-log"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "temperature" in err[0]
    assert not out.exists()


def test_a_config_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    d = _copy_default(tmp_path)
    (d / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        load_model(d)


def test_the_shipped_models_pass(tmp_path: Path) -> None:
    assert load_model(_copy_default(tmp_path)).name == "default"
