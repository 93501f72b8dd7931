import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import detector.train as train_mod
from detector.augment import AugmentConfig
from detector.io import load_model
from detector.registry import create_detector
from detector.train import TrainConfig, train_detector
from fakescope.core.checkpoint import load_checkpoint, unprefixed

from .conftest import build_testset, with_face_masks

FAST = TrainConfig(
    epochs=2,
    batch_size=8,
    input_size=32,
    steps_per_epoch=3,
    warmup_steps=1,
    progress=False,
    max_frames_per_video=4,
    eval_batch_size=64,
)


@pytest.fixture
def small_set(tmp_path):
    return build_testset(
        tmp_path / "ts", videos_per_split={"train": 3, "val": 2, "test": 2}, frames=4, size=40
    )


def test_end_to_end_writes_a_loadable_calibrated_model(small_set, tmp_path):
    out = tmp_path / "run"
    result = train_detector([small_set], "meso4", out, FAST)
    assert {"model.safetensors", "config.json", "run.json", "curves.png", "checkpoints"} <= {
        p.name for p in out.iterdir()
    }
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["arch"] == "meso4" and cfg["input_size"] == 32
    assert cfg["crop_size"] == 40 and cfg["aggregation"]["top_frac"] == 0.25
    assert cfg["calibration"]["method"] == "temperature"
    assert 0 < cfg["threshold"] < 1
    assert len(cfg["training_data"]["manifest_sha256"]) == 64
    assert cfg["metrics"]["test"]["n_videos"] == 4
    assert set(cfg["metrics"]["test"]["per_method_video_auc"]) == {"ae_swap", "self_blend"}
    run = json.loads((out / "run.json").read_text())
    assert run["finished"] and run["seed"] == 0 and run["config"]["epochs"] == 2
    assert [h["epoch"] for h in run["history"]] == [1, 2]
    assert "git_commit" in run["code"]
    assert result.epochs_run == 2 and result.metrics == cfg["metrics"]
    det = load_model(out)
    assert (det.crop_size, det.top_frac) == (40, 0.25)
    crops = np.load(small_set / "crops" / "test_fake_0.npz")["images"]
    p = det.predict_proba(crops)
    assert p.shape == (4,) and np.all((p > 0) & (p < 1))


def test_a_mask_reading_model_trains_with_self_blends_and_needs_masks_to_run(small_set, tmp_path):
    out = tmp_path / "run"
    train_detector([with_face_masks(small_set)], "meso4_contrast_mask", out, replace(FAST, sbi_fraction=0.5))
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["in_channels"] == 4 and cfg["metrics"]["test"]["n_videos"] == 4
    det = load_model(out)
    with np.load(small_set / "crops" / "test_fake_0.npz") as z:
        crops, masks = z["images"], z["masks"]
    assert det.needs_mask and det.predict_proba(crops, masks=masks).shape == (4,)
    bare = build_testset(tmp_path / "bare", {"train": 2, "val": 2, "test": 1}, frames=2, size=40)
    for f in (bare / "crops").glob("*.npz"):  # crops of an old test set: no hull masks
        with np.load(f) as z:
            np.savez(f, images=z["images"], frames=z["frames"])
    with pytest.raises(ValueError, match="carry none"):
        train_detector([bare], "meso4_contrast_mask", tmp_path / "run2", FAST)


@pytest.mark.slow
def test_learns_an_easy_cue(tmp_path):
    """The synthetic fakes carry an obvious patch; a few dozen steps must already rank them well."""
    root = build_testset(
        tmp_path / "ts", videos_per_split={"train": 6, "val": 3, "test": 3}, frames=4, size=32
    )
    cfg = replace(FAST, epochs=3, steps_per_epoch=10, lr=3e-3, augment=None)
    result = train_detector([root], "meso4", tmp_path / "run", cfg)
    assert result.metrics["test"]["frame_auc"] > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_after_a_crash_matches_an_uninterrupted_run(small_set, tmp_path, monkeypatch, ema_decay):
    # with a weight average the average itself must survive the crash, or the shipped model drifts
    cfg = replace(FAST, checkpoint_every_s=0.0, ema_decay=ema_decay)  # checkpoint after every step
    train_detector([small_set], "meso4", tmp_path / "straight", cfg)

    real_augment = train_mod.augment_batch
    calls = {"n": 0}

    def crash_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # second step of epoch 2
            raise KeyboardInterrupt
        return real_augment(*args, **kwargs)

    monkeypatch.setattr(train_mod, "augment_batch", crash_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train_detector([small_set], "meso4", tmp_path / "resumed", cfg)
    state = load_checkpoint(tmp_path / "resumed").meta
    assert (state["epoch"], state["step_in_epoch"]) == (1, 1)
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    monkeypatch.setattr(train_mod, "augment_batch", real_augment)

    with pytest.raises(ValueError, match="resume=True"):
        train_detector([small_set], "meso4", tmp_path / "resumed", cfg)
    with pytest.raises(ValueError, match="arch"):
        train_detector([small_set], "meso_inception4", tmp_path / "resumed", replace(cfg, resume=True))
    with pytest.raises(ValueError, match="select"):  # the kept epoch must be chosen by one criterion throughout
        train_detector([small_set], "meso4", tmp_path / "resumed", replace(cfg, resume=True, select="worst_method"))
    result = train_detector([small_set], "meso4", tmp_path / "resumed", replace(cfg, resume=True))

    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert result.epochs_run == 2
    run = json.loads((tmp_path / "resumed" / "run.json").read_text())
    assert [h["epoch"] for h in run["history"]] == [1, 2]


def test_weight_average_follows_the_documented_update_and_copies_integer_buffers():
    net = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.BatchNorm1d(1))
    ema = train_mod._Ema(net, 0.5)
    start = {k: v.clone() for k, v in ema.state.items()}
    with torch.no_grad():
        net[0].weight.add_(1.0)
    net[1].num_batches_tracked += 3
    ema.update(net, step=100)  # past the ramp: decay is 0.5
    assert torch.allclose(ema.state["0.weight"], start["0.weight"] + 0.5)
    assert int(ema.state["1.num_batches_tracked"]) == 3
    ema.update(net, step=0)  # ramp: decay (1 + 0) / (10 + 0) = 0.1, mostly the new weights
    assert torch.allclose(ema.state["0.weight"], 0.1 * (start["0.weight"] + 0.5) + 0.9 * net[0].weight)
    avg = ema.model_like(net)
    assert avg is not net and torch.equal(avg[0].weight, ema.state["0.weight"])


def test_a_weight_averaged_run_saves_the_average_not_the_last_weights(small_set, tmp_path, monkeypatch):
    _script_val_auc(monkeypatch, lambda n: n != 1)  # the last epoch is the best: its average is saved
    out = tmp_path / "run"
    train_detector([small_set], "meso4", out, replace(FAST, ema_decay=0.9))
    saved = load_file(out / "model.safetensors")
    tensors = load_checkpoint(out).tensors
    raw, avg = unprefixed("model", tensors), unprefixed("ema", tensors)
    assert all(torch.equal(saved[k], avg[k]) for k in saved)
    assert not all(torch.equal(saved[k], raw[k]) for k in saved if saved[k].is_floating_point())
    assert json.loads((out / "run.json").read_text())["ema_decay"] == 0.9
    with pytest.raises(ValueError, match="ema_decay"):
        train_detector([small_set], "meso4", tmp_path / "bad", replace(FAST, ema_decay=1.0))


def _script_val_auc(monkeypatch, good) -> None:
    """Make the n-th call of predict_split (one per epoch, then calibration) score AUC 1.0 where
    ``good(n)`` holds and 0.0 elsewhere, while still running the model."""
    real_predict = train_mod.predict_split
    calls = {"n": 0}

    def scripted(model, split, *args):
        calls["n"] += 1
        real_predict(model, split, *args)
        return (split.labels if good(calls["n"]) else 1 - split.labels).astype(np.float32) * 4 - 2

    monkeypatch.setattr(train_mod, "predict_split", scripted)


def test_early_stopping_keeps_the_best_epoch(small_set, tmp_path, monkeypatch):
    # val AUC 1.0 after epoch 1, then 0.0: training must stop after `patience` bad epochs
    _script_val_auc(monkeypatch, lambda n: n == 1 or n > 3)
    result = train_detector([small_set], "meso4", tmp_path / "run", replace(FAST, epochs=6, patience=2))
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 1
    history = json.loads((tmp_path / "run" / "run.json").read_text())["history"]
    assert [h["val_frame_auc"] for h in history] == [1.0, 0.0, 0.0]


@pytest.mark.slow
def test_cli_patience_zero_runs_every_epoch_and_keeps_the_best(small_set, tmp_path, monkeypatch):
    from fakescope.cli import main

    # val AUC 1.0 after epoch 1 only: the default patience would stop at epoch 5, 0 must not
    _script_val_auc(monkeypatch, lambda n: n == 1)
    argv = ["detector", "train", "--data", str(small_set), "--arch", "meso4", "--out", str(tmp_path / "run"),
            "--epochs", "6", "--steps-per-epoch", "2", "--batch-size", "8", "--input-size", "32", "--quiet",
            "--patience", "0", "--ema", "0.99"]
    assert main(argv) == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert len(run["history"]) == 6 and run["metrics"]["best_epoch"] == 1
    assert run["ema_decay"] == 0.99 and run["config"]["ema_decay"] == 0.99


def test_validation_split_needs_both_classes(tmp_path):
    root = build_testset(tmp_path / "ts", videos_per_split={"train": 2, "test": 1}, frames=2, size=16)
    with pytest.raises(ValueError, match="val split"):
        train_detector([root], "meso4", tmp_path / "run", FAST)


def test_lr_schedule_warms_up_and_decays():
    cfg = TrainConfig(lr=1.0, warmup_steps=10)
    lrs = [train_mod._lr_at(s, 100, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and max(lrs) <= 1.0
    assert lrs[9] > lrs[50] > lrs[99] >= 0.05


def test_bf16_autocast_training_and_rerun_of_a_finished_run(small_set, tmp_path):
    cfg = replace(FAST, epochs=1, bf16=True)
    first = train_detector([small_set], "patchgan", tmp_path / "run", cfg)
    assert np.isfinite(first.metrics["val"]["frame_brier"])
    weights = (tmp_path / "run" / "model.safetensors").read_bytes()
    again = train_detector([small_set], "patchgan", tmp_path / "run", replace(cfg, resume=True))
    assert again.epochs_run == 1  # nothing left to train: only re-calibrates and re-saves the same weights
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == weights


def test_seam_loss_trains_the_seam_map_and_refuses_what_cannot_learn_it(small_set, tmp_path):
    masked = with_face_masks(small_set)
    cfg = TrainConfig(epochs=1, batch_size=8, input_size=32, steps_per_epoch=3, warmup_steps=1, progress=False,
                      max_frames_per_video=4, eval_batch_size=64, sbi_fraction=0.5, seam_weight=1.0)
    out = tmp_path / "xray"
    torch.manual_seed(0)
    before = create_detector("meso4_xray").seam.weight.detach().clone()
    train_detector([masked], "meso4_xray", out, cfg)
    assert json.loads((out / "run.json").read_text())["seam_weight"] == 1.0
    loaded = load_model(out)
    assert not torch.equal(loaded.model.seam.weight, before)  # the seam head received gradients
    with pytest.raises(ValueError, match="seam_weight"):
        train_detector([masked], "meso4_xray", out, replace(cfg, resume=True, seam_weight=2.0))
    with pytest.raises(ValueError, match="predicts no seam map"):
        train_detector([masked], "meso4_contrast", tmp_path / "a", cfg)
    with pytest.raises(ValueError, match="--sbi"):
        train_detector([masked], "meso4_xray", tmp_path / "b", replace(cfg, sbi_fraction=0.0))


def test_seam_loss_counts_only_samples_whose_seam_is_known():
    alpha = np.zeros((3, 16, 16), np.float32)
    alpha[0, :, :8] = 0.5  # a half-strength blend over the left half: target 1 there, 0 on the right
    logits = torch.full((3, 2, 2), -20.0)
    logits[0, :, 0] = 20.0
    known = np.array([True, True, False])
    perfect = train_mod._seam_loss(logits, alpha, known).item()
    assert perfect < 1e-3  # right on the known two; the third (an offline fake) would cost ~20
    assert train_mod._seam_loss(-logits, alpha, known).item() > 5
    none = train_mod._seam_loss(logits.requires_grad_(), alpha, np.zeros(3, bool))
    assert none.item() == 0.0 and none.requires_grad


def test_defocus_is_applied_to_reals_and_online_blends_only():
    from detector.sbi import BatchPlan

    hulls = np.full((4, 8, 8), 255, np.uint8)
    plan = BatchPlan(np.arange(4), np.array([False, False, False, True]), np.zeros(4, np.int64), np.array([-1, -1, -1, 2]))
    labels = np.array([0, 1, 0, 1])  # a real, an offline fake, a real and its fresh self-blend
    out = train_mod._defocus_hulls(hulls, plan, labels, slice(None), AugmentConfig(defocus=0.5))
    assert [bool(h.any()) for h in out] == [True, False, True, True]
    assert train_mod._defocus_hulls(hulls, plan, labels, slice(None), AugmentConfig()) is hulls  # off: untouched


def _scripted_methods(monkeypatch, scores_by_call) -> None:
    """The n-th predict_split call scores each crop by ``scores_by_call(n, method, k)`` (k: the crop's
    position within its video), while still running the model."""
    real_predict = train_mod.predict_split
    calls = {"n": 0}

    def scripted(model, split, *args):
        calls["n"] += 1
        real_predict(model, split, *args)
        methods = np.asarray(split.video_methods, dtype=object)[split.video]
        first = {v: int(np.flatnonzero(split.video == v)[0]) for v in np.unique(split.video)}
        pos = np.arange(len(split)) - np.array([first[v] for v in split.video])
        return np.array([scores_by_call(calls["n"], str(m), int(k)) for m, k in zip(methods, pos, strict=True)],
                        np.float32)

    monkeypatch.setattr(train_mod, "predict_split", scripted)


@pytest.mark.parametrize(("select", "best"), [("auc", 1), ("worst_method", 2)])
def test_worst_method_selection_prefers_the_epoch_that_catches_every_family(small_set, tmp_path, monkeypatch, select, best):
    """Epoch 1 catches every ae_swap and half the self-blends, epoch 2 three quarters of each: the
    pooled AUC ties (0.75) and keeps epoch 1, the worst-method criterion picks epoch 2."""
    def score(n, method, k):
        if method == "real":
            return 0.0
        if n == 1 and method == "ae_swap":
            return 5.0
        if n == 1:
            return 1.0 if k % 2 == 0 else -1.0
        return 1.0 if k % 4 < 3 else -1.0

    _scripted_methods(monkeypatch, score)
    result = train_detector([small_set], "meso4", tmp_path / "run", replace(FAST, epochs=2, select=select))
    assert result.best_epoch == best
    history = json.loads((tmp_path / "run" / "run.json").read_text())["history"]
    assert history[0]["val_method_auc"] == {"ae_swap": 1.0, "self_blend": 0.5}
    assert history[1]["val_method_auc"] == {"ae_swap": 0.75, "self_blend": 0.75}
    assert [h["val_frame_auc"] for h in history] == [0.75, 0.75]


def test_unknown_selection_criterion_is_refused(small_set, tmp_path):
    with pytest.raises(ValueError, match="worst_method"):
        train_detector([small_set], "meso4", tmp_path / "run", replace(FAST, select="dfdc"))


def test_self_blends_alone_need_no_fake_in_the_train_split(small_set, tmp_path):
    import csv

    root = with_face_masks(small_set)
    path = root / "manifest.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    with path.open("w", newline="") as f:  # the train split keeps only its reals
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for r in rows if not (r["split"] == "train" and r["label"] == "fake"))
    with pytest.raises(ValueError, match="train split needs both"):
        train_detector([root], "meso4", tmp_path / "half", replace(FAST, sbi_fraction=0.5))
    r = train_detector([root], "meso4", tmp_path / "sbi", replace(FAST, sbi_fraction=1.0, epochs=1))
    run = json.loads((tmp_path / "sbi" / "run.json").read_text())
    assert run["counts"]["train"]["fake_videos"] == 0 and r is not None
    assert (tmp_path / "sbi" / "model.safetensors").is_file()


def test_detail_matching_trains_and_needs_face_masks(small_set, tmp_path):
    cfg = replace(FAST, epochs=1, augment=AugmentConfig(match_detail=1.0))
    for f in (small_set / "crops").glob("*.npz"):  # crops of an old test set: no hull masks
        with np.load(f) as z:
            np.savez(f, images=z["images"], frames=z["frames"])
    with pytest.raises(ValueError, match="match-detail"):
        train_detector([small_set], "meso4", tmp_path / "nomask", cfg)
    train_detector([with_face_masks(small_set)], "meso4", tmp_path / "run", cfg)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["augment"]["match_detail"] == 1.0 and (tmp_path / "run" / "model.safetensors").is_file()
