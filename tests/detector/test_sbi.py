import json
from dataclasses import replace

import numpy as np
import pytest

from detector.data import load_crops
from detector.sbi import materialize, plan_batch, real_weights, seam_known, seam_target
from detector.train import TrainConfig, train_detector

from .conftest import build_testset, with_face_masks


@pytest.fixture
def masked_set(tmp_path):
    return with_face_masks(build_testset(tmp_path / "ts", {"train": 3, "val": 2, "test": 2}, frames=4, size=48))


def test_a_batch_pairs_each_real_with_its_own_self_blend_and_stays_balanced(masked_set):
    train = load_crops([masked_set], 48).splits["train"]
    rng = np.random.default_rng(0)
    plan = plan_batch(rng, 16, train.balanced_weights(), 0.5, real_weights(train))
    assert len(plan.index) == 16 and plan.blend.sum() == 4
    blended = plan.index[plan.blend]
    assert np.array_equal(plan.index[8:12], blended)  # each blend's source is also in the batch, as itself
    assert np.all(train.labels[blended] == 0)  # blends are made from real crops only
    images, labels = materialize(train, plan, slice(None))
    assert labels[plan.blend].tolist() == [1] * 4 and labels[8:12].tolist() == [0] * 4
    assert np.array_equal(images[~plan.blend], train.images[plan.index[~plan.blend]])
    for img, src in zip(images[plan.blend], plan.index[plan.blend], strict=True):
        diff = np.abs(img.astype(int) - train.images[src].astype(int)).sum(axis=2)
        assert diff.sum() > 0
        corners = diff[:4, :4], diff[-4:, -4:]
        assert all(c.max() == 0 for c in corners)  # outside the face nothing changes
    # a rank's slice is the same samples as that part of the whole batch
    part, part_labels = materialize(train, plan, slice(8, 16))
    assert np.array_equal(part, images[8:]) and np.array_equal(part_labels, labels[8:])


def test_no_self_blends_when_the_fraction_is_zero_or_the_masks_are_missing(masked_set, tmp_path):
    train = load_crops([masked_set], 48).splits["train"]
    plan = plan_batch(np.random.default_rng(0), 8, train.balanced_weights(), 0.0, None)
    assert not plan.blend.any()
    bare = load_crops([build_testset(tmp_path / "bare", frames=2, size=32)], 32).splits["train"]
    with pytest.raises(ValueError, match="no real training crop has a face mask"):
        real_weights(bare)
    with pytest.raises(ValueError, match="--sbi 0"):
        real_weights(replace(bare, masks=None))


def test_training_with_online_self_blends_records_it_and_refuses_a_changed_resume(masked_set, tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=8, input_size=32, steps_per_epoch=2, warmup_steps=1, progress=False,
                      max_frames_per_video=4, eval_batch_size=64, sbi_fraction=0.5)
    out = tmp_path / "run"
    train_detector([masked_set], "meso4", out, cfg)
    assert json.loads((out / "run.json").read_text())["sbi_fraction"] == 0.5
    with pytest.raises(ValueError, match="sbi_fraction"):
        train_detector([masked_set], "meso4", out, replace(cfg, resume=True, sbi_fraction=0.25))
    with pytest.raises(ValueError, match="sbi_fraction must lie"):
        train_detector([masked_set], "meso4", tmp_path / "bad", replace(cfg, sbi_fraction=1.5))


def test_each_self_blend_shares_its_real_twins_augmentation_seed(masked_set):
    train = load_crops([masked_set], 48).splits["train"]
    plan = plan_batch(np.random.default_rng(1), 16, train.balanced_weights(), 0.5, real_weights(train))
    seeds = np.arange(100, 116)
    tied = plan.tie(seeds)
    blends = np.flatnonzero(plan.blend)
    assert np.array_equal(plan.index[plan.twin[blends]], plan.index[blends])  # the twin is the same crop, unblended
    assert np.array_equal(tied[blends], seeds[plan.twin[blends]])
    assert np.array_equal(tied[~plan.blend], seeds[~plan.blend])  # everything else keeps its own draw
    no_sbi = plan_batch(np.random.default_rng(1), 8, train.balanced_weights(), 0.0, None)
    assert np.array_equal(no_sbi.tie(seeds[:8]), seeds[:8])


def test_blend_alphas_mark_where_a_self_blend_changed_pixels_and_are_zero_elsewhere(masked_set):
    train = load_crops([masked_set], 48).splits["train"]
    plan = plan_batch(np.random.default_rng(1), 16, train.balanced_weights(), 0.5, real_weights(train))
    images, labels, alpha = materialize(train, plan, slice(None), alphas=True)
    again, _ = materialize(train, plan, slice(None))
    assert np.array_equal(images, again)  # asking for the alphas changes no pixel
    assert alpha.shape == images.shape[:3] and alpha.dtype == np.float32
    assert not alpha[~plan.blend].any()
    for img, a, src in zip(images[plan.blend], alpha[plan.blend], plan.index[plan.blend], strict=True):
        changed = np.abs(img.astype(int) - train.images[src].astype(int)).sum(axis=2) > 0
        assert a.max() > 0 and not changed[a == 0].any()  # every changed pixel lies under the alpha
    known = seam_known(plan, labels, slice(None))
    assert known[plan.blend].all() and known[labels == 0].all()
    assert not known[(labels == 1) & ~plan.blend].any()  # offline fakes: mask unknown, no seam loss


def test_seam_target_peaks_where_two_images_mix_half_and_half():
    a = np.array([0.0, 0.25, 0.5, 1.0], np.float32)
    assert np.allclose(seam_target(a), [0.0, 0.75, 1.0, 0.0])
