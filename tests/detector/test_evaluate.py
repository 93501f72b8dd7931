import numpy as np
import pytest
import torch

from detector.calibration import IdentityCalibrator
from detector.data import CropSplit
from detector.evaluate import auc_or_none, predict_split, split_metrics, video_scores


def _split() -> CropSplit:
    # videos: 0 real, 1 real, 2 fake (ae_swap), 3 fake (warp); 4 frames each
    video = np.repeat(np.arange(4), 4)
    labels = np.repeat([0, 0, 1, 1], 4)
    images = np.zeros((16, 8, 8, 3), np.uint8)
    return CropSplit(images, labels, video, np.tile(np.arange(4), 4), np.array([0, 0, 1, 1]),
                     ("real", "real", "ae_swap", "warp"), ("a", "b", "c", "d"))  # fmt: skip


def test_video_score_follows_the_top_k_rule():
    split = _split()
    logits = np.array([-3, -3, -3, -1.0, -2, -2, -2, -2, 5, -4, -4, -4, 0, 0, 0, 0])
    p = video_scores(split, logits, None, top_frac=0.25)  # k = 1: each video's max frame
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-np.array([-1.0, -2.0, 5.0, 0.0]))))


def test_metrics_include_per_method_auc():
    split = _split()
    logits = np.array([-3, -3, -3, -1.0, -2, -2, -2, -2, 5, -4, -4, -4, -3, -3, -3, -3])
    m = split_metrics(split, logits, IdentityCalibrator(), top_frac=0.25, threshold=0.5)
    assert m["per_method_video_auc"] == {"ae_swap": 1.0, "warp": 0.0}  # warp video scores below both reals
    assert m["video_auc"] == pytest.approx(0.5)
    assert m["video_accuracy"] == pytest.approx(0.75)
    assert m["n_videos"] == 4 and m["n_frames"] == 16


def test_auc_is_none_for_one_class_and_predict_matches_model():
    assert auc_or_none(np.array([1, 1]), np.array([0.2, 0.3])) is None
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 1), torch.nn.Flatten(0))
    out = predict_split(model, _split(), ((0.5,) * 3, (0.5,) * 3), input_size=8, batch_size=5)
    assert out.shape == (16,)
    np.testing.assert_allclose(
        out, np.full(16, out[0]), rtol=1e-5
    )  # all-black crops: same logit in every batch


def test_video_auc_ranks_confident_videos_by_logit_not_by_a_probability_rounded_to_one():
    split = _split()
    # every video is very confident: their probabilities are clipped to one value, yet the fakes rank higher
    logits = np.repeat([40.0, 45.0, 50.0, 55.0], 4)
    m = split_metrics(split, logits, IdentityCalibrator(), top_frac=0.25, threshold=0.5)
    assert m["video_auc"] == 1.0 and m["per_method_video_auc"] == {"ae_swap": 1.0, "warp": 1.0}
    p = video_scores(split, logits, IdentityCalibrator(), 0.25)
    assert np.all(p == p[0])  # the probabilities themselves all tie
