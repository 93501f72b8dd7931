from pathlib import Path

import pytest
import torch

from fakescope.cli import main
from fakescope.core.device import resolve_device


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_is_the_cpu_without_cuda_and_cuda_is_refused_then(no_cuda: None) -> None:
    assert resolve_device("auto").type == "cpu" and resolve_device("cpu").type == "cpu"
    for name in ("cuda", "cuda:1"):
        with pytest.raises(ValueError, match="no CUDA device on this machine; use --device cpu"):
            resolve_device(name)


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda"):
        resolve_device("tpu")


@pytest.mark.parametrize("argv", [
    ["scan", "{clip}", "--device", "cuda", "--quiet", "--no-log"],
    ["detector", "train", "--data", "{tmp}", "--arch", "meso4", "--out", "{tmp}/m", "--device", "cuda"],
    ["detector", "eval", "--data", "{tmp}", "--device", "cuda"],
])
def test_cli_asks_for_cuda_without_it_exits_2_before_work(argv: list[str], talking_head: Path, tmp_path: Path,
                                                          no_cuda: None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{clip}", str(talking_head)).replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA device" in err[0]
    assert not (tmp_path / "m").exists()
