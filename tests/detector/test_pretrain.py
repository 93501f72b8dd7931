"""Contrastive pretraining of the detector's feature layers, and `detector train --init`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from detector.pretrain import (
    RECORD_FILE,
    WEIGHTS_FILE,
    PretrainConfig,
    init_features,
    nt_xent,
    pretrain,
    random_view,
)
from detector.registry import create_detector
from detector.train import TrainConfig, train_detector

CFG = PretrainConfig(steps=4, batch_size=4, input_size=40, log_every=2, progress=False, device="cpu")


def test_nt_xent_is_low_when_each_view_is_nearest_its_twin() -> None:
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(8, 16, generator=g)
    matched, acc = nt_xent(z1, z1 + 0.01 * torch.randn(8, 16, generator=g), 0.2)
    shuffled, acc_shuffled = nt_xent(z1, z1[torch.randperm(8, generator=g)], 0.2)
    assert float(matched) < float(shuffled) - 1.0
    assert float(acc) == 1.0 and float(acc_shuffled) < 0.5
    with pytest.raises(ValueError, match="equal shape"):
        nt_xent(z1, z1[:4], 0.2)


def test_a_view_is_a_rescaled_crop_of_the_same_size() -> None:
    img = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    v1 = random_view(img, np.random.default_rng(1), CFG)
    v2 = random_view(img, np.random.default_rng(2), CFG)
    assert v1.shape == img.shape and v1.dtype == np.uint8
    assert not np.array_equal(v1, v2)
    assert np.array_equal(v1, random_view(img, np.random.default_rng(1), CFG))  # seeded: reproducible


def test_pretraining_writes_features_that_init_loads(tiny_testset: Path, tmp_path: Path) -> None:
    out = tmp_path / "pre"
    r = pretrain([tiny_testset], "meso4_contrast", out, CFG)
    assert r.finished and r.step == 4 and r.loss is not None
    rec = json.loads((out / RECORD_FILE).read_text())
    assert rec["arch"] == "meso4_contrast" and rec["step"] == 4 and rec["finished"] and rec["manifest_hash"]
    assert rec["real_crops"] == 4 * 6  # the train split's 4 real videos x 6 frames: no fakes, no val/test
    saved = load_file(str(out / WEIGHTS_FILE))
    fresh = create_detector("meso4_contrast")
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    sha = init_features(fresh, out, "meso4_contrast", {})
    assert len(sha) == 64
    after = fresh.state_dict()
    for k in after:
        if k.startswith("features."):
            assert torch.equal(after[k], saved[k])
        else:  # the head starts as created
            assert torch.equal(after[k], before[k])
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("features.") and after[k].is_floating_point())
    with pytest.raises(ValueError, match="pretrained meso4_contrast"):
        init_features(create_detector("meso4"), out, "meso4", {})


def test_a_torchvision_backbone_pretrains_and_inits_its_trunk(tiny_testset: Path, tmp_path: Path) -> None:
    out = tmp_path / "pre_mobile"
    pretrain([tiny_testset], "mobilenet_v3_small", out, replace(CFG, steps=2, input_size=64))
    saved = load_file(str(out / WEIGHTS_FILE))
    fresh = create_detector("mobilenet_v3_small")
    head_before = {k: v.clone() for k, v in fresh.state_dict().items() if k.startswith("net.classifier.")}
    init_features(fresh, out, "mobilenet_v3_small", {})
    after = fresh.state_dict()
    trunk = [k for k in after if k.startswith("net.features.")]
    assert trunk and all(torch.equal(after[k], saved[k.removeprefix("net.")]) for k in trunk)
    assert head_before and all(torch.equal(after[k], v) for k, v in head_before.items())


def test_an_interrupted_pretraining_resumes_to_the_same_weights(tiny_testset: Path, tmp_path: Path) -> None:
    pretrain([tiny_testset], "meso4_contrast", tmp_path / "whole", CFG)
    half = tmp_path / "half"
    pretrain([tiny_testset], "meso4_contrast", half, replace(CFG, steps=2))
    with pytest.raises(ValueError, match="--resume"):
        pretrain([tiny_testset], "meso4_contrast", half, CFG)
    r = pretrain([tiny_testset], "meso4_contrast", half, replace(CFG, resume=True))
    assert r.step == 4
    a, b = load_file(str(tmp_path / "whole" / WEIGHTS_FILE)), load_file(str(half / WEIGHTS_FILE))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="temperature"):
        pretrain([tiny_testset], "meso4_contrast", half, replace(CFG, steps=6, temperature=0.5, resume=True))


def test_detector_training_starts_from_the_pretrained_features(tiny_testset: Path, tmp_path: Path) -> None:
    pre = tmp_path / "pre"
    pretrain([tiny_testset], "meso4_contrast", pre, CFG)
    cfg = TrainConfig(epochs=1, batch_size=8, input_size=40, progress=False, init=str(pre), augment=None, device="cpu")
    train_detector([tiny_testset], "meso4_contrast", tmp_path / "det", cfg)
    run = json.loads((tmp_path / "det" / "run.json").read_text())
    assert run["init"] == str(pre) and len(run["init_sha256"]) == 64
    from detector.model_card import model_card

    card = model_card(tmp_path / "det")
    assert str(pre) in card and run["init_sha256"] in card  # the card says where the features started
    with pytest.raises(ValueError, match="pretrained meso4_contrast"):
        train_detector([tiny_testset], "meso4", tmp_path / "det2", replace(cfg, init=str(pre)))
    with pytest.raises(ValueError, match="not a `fakescope detector pretrain` output"):
        train_detector([tiny_testset], "meso4_contrast", tmp_path / "det3", replace(cfg, init=str(tmp_path)))


def test_a_detector_run_from_pretrained_features_resumes_without_them(tiny_testset: Path, tmp_path: Path) -> None:
    """The checkpoint holds every weight: a resume neither needs the pretrained folder nor re-hashes it."""
    import shutil

    pre = tmp_path / "pre"
    pretrain([tiny_testset], "meso4_contrast", pre, CFG)
    out = tmp_path / "det"
    cfg = TrainConfig(epochs=1, batch_size=8, input_size=40, progress=False, init=str(pre), augment=None, device="cpu")
    train_detector([tiny_testset], "meso4_contrast", out, cfg)
    sha = json.loads((out / "run.json").read_text())["init_sha256"]
    shutil.rmtree(pre)
    train_detector([tiny_testset], "meso4_contrast", out, replace(cfg, epochs=2, resume=True))
    run = json.loads((out / "run.json").read_text())
    assert run["init_sha256"] == sha and len(run["history"]) == 2
    with pytest.raises(ValueError, match="init was"):  # says what the checkpointed run used
        train_detector([tiny_testset], "meso4_contrast", out, replace(cfg, epochs=3, resume=True, init=None))
