"""`detector train --distributed`: 2 torchrun processes give the single-process model (within 1e-5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from detector.augment import AugmentConfig, augment_batch
from detector.distributed import Dist, GlobalBatchNorm2d, globalize_batchnorm
from detector.registry import create_detector
from fakescope.cli import main
from fakescope.core.checkpoint import load_checkpoint, unprefixed

from .conftest import build_testset

# Meso-4 with its BatchNorm layers (made global under --distributed) and augmentation on (seeded per
# sample); dropout off, because torch draws dropout masks per tensor, so ranks cannot share them.
ARGS = ["--arch", "meso4", "--arch-kwargs", '{"dropout": 0.0}', "--epochs", "2", "--steps-per-epoch", "3",
        "--batch-size", "8", "--input-size", "32", "--quiet"]


def _tensors(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    loaded = load_checkpoint(run)
    assert loaded is not None
    return {"final": load_file(run / "model.safetensors"), "last": unprefixed("model", loaded.tensors),
            "adam": unprefixed("optimizer", loaded.tensors)}


@pytest.mark.slow
def test_two_torchrun_processes_match_one_process(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    data = build_testset(tmp_path / "ts", videos_per_split={"train": 3, "val": 2, "test": 2}, frames=4, size=40)
    single, multi = tmp_path / "single", tmp_path / "multi"
    assert main(["detector", "train", "--data", str(data), "--out", str(single), *ARGS]) == 0
    assert main(["detector", "train", "--data", str(data), "--out", str(multi), *ARGS,
                 "--distributed", "--nproc", "2"]) == 0
    out = capfd.readouterr().out
    assert out.count(f"{multi}: best epoch") == 1  # rank 0 reports, the other rank stays quiet

    a, b = _tensors(single), _tensors(multi)
    for kind in a:
        assert a[kind].keys() == b[kind].keys()
        for k in a[kind]:
            assert torch.allclose(a[kind][k].float(), b[kind][k].float(), atol=1e-5, rtol=1e-4), (kind, k)
    # Training really moved the weights (so the comparison is not between two untouched inits).
    init = create_detector("meso4", dropout=0.0).state_dict()
    assert not torch.allclose(a["last"]["features.0.0.weight"], init["features.0.0.weight"], atol=1e-3)
    # The batch-norm running statistics are those of the global batches.
    assert torch.allclose(a["last"]["features.0.2.running_mean"], b["last"]["features.0.2.running_mean"], atol=1e-5)

    run_a = json.loads((single / "run.json").read_text())
    run_b = json.loads((multi / "run.json").read_text())
    assert (run_a["world_size"], run_b["world_size"]) == (1, 2)
    for ha, hb in zip(run_a["history"], run_b["history"], strict=True):
        assert ha["train_loss"] == pytest.approx(hb["train_loss"], abs=1e-5)  # loss averaged over ranks
        assert ha["val_loss"] == pytest.approx(hb["val_loss"], abs=1e-5)  # val split scored in two halves
    # Only rank 0 wrote: one set of checkpoint files, no temp files left behind.
    assert sorted(p.relative_to(multi).as_posix() for p in (multi / "checkpoints").rglob("*")) == sorted(
        p.relative_to(single).as_posix() for p in (single / "checkpoints").rglob("*"))
    assert not [p for p in multi.rglob("*") if ".tmp" in p.name]


def test_batch_must_split_evenly_over_the_processes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["detector", "train", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--arch", "meso4",
                 "--batch-size", "9", "--distributed", "--nproc", "2"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "multiple of --nproc 2" in err[0]


def test_shards_cover_a_batch_exactly_once() -> None:
    for n, w in [(8, 2), (9, 2), (10, 4), (3, 4)]:
        covered = np.concatenate([np.arange(n)[Dist(r, w).shard(n)] for r in range(w)])
        assert covered.tolist() == list(range(n))
    with pytest.raises(ValueError, match="multiple"):
        Dist(0, 3).check_batch(8)


def test_per_sample_seeds_make_augmentation_independent_of_the_slice() -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (6, 24, 24, 3), dtype=np.uint8)
    seeds = rng.integers(0, 2**63 - 1, size=6)
    cfg = AugmentConfig(p=1.0)
    whole = augment_batch(imgs, np.random.default_rng(1), cfg, seeds=seeds)
    halves = np.concatenate([augment_batch(imgs[:3], np.random.default_rng(2), cfg, seeds=seeds[:3]),
                             augment_batch(imgs[3:], np.random.default_rng(3), cfg, seeds=seeds[3:])])
    assert np.array_equal(whole, halves) and not np.array_equal(whole, imgs)
    with pytest.raises(ValueError, match="one seed per crop"):
        augment_batch(imgs, rng, cfg, seeds=seeds[:2])


def test_global_batchnorm_is_plain_batchnorm_in_one_process() -> None:
    torch.manual_seed(0)
    net = create_detector("meso4", dropout=0.0)
    ref = create_detector("meso4", dropout=0.0)
    ref.load_state_dict(net.state_dict())
    net = globalize_batchnorm(net)
    assert any(isinstance(m, GlobalBatchNorm2d) for m in net.modules())
    assert net.state_dict().keys() == ref.state_dict().keys()
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(net.train()(x), ref.train()(x), atol=1e-6)
    assert torch.allclose(net.eval()(x), ref.eval()(x), atol=1e-6)


@pytest.mark.parametrize("bad", [["--arch", "nope"], ["--arch-kwargs", "{not json"], ["--data-missing"]])
def test_distributed_usage_errors_exit_2_once_before_launching(bad: list[str], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "missing") if bad == ["--data-missing"] else str(tmp_path)
    argv = ["detector", "train", "--data", data, "--arch", "meso4", "--out", str(tmp_path / "o"), "--distributed"]
    if bad != ["--data-missing"]:
        argv += bad
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fakescope: error:")
