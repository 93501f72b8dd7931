import math

import numpy as np
import pytest

from detector.aggregate import aggregate_video, top_k
from detector.calibration import TemperatureScaler, sigmoid


def test_k_is_ceil_of_fraction_with_minimum_one():
    assert [top_k(n, 0.25) for n in (1, 3, 4, 5, 8, 9)] == [1, 1, 1, 2, 2, 3]
    assert top_k(10, 1.0) == 10


def test_track_logit_is_mean_of_top_quarter():
    logits = np.array([-3.0, 5.0, 0.0, 1.0, 4.0, -1.0, 2.0, -2.0])  # n=8 -> k=2 -> mean(5, 4)
    frames = np.arange(8) * 10
    score = aggregate_video(np.zeros(8), frames, logits)
    t = score.tracks[0]
    assert (t.n_frames, t.k) == (8, 2)
    assert t.logit == pytest.approx(4.5)
    assert t.probability == pytest.approx(sigmoid(4.5))
    assert t.top_frames == (10, 40)  # most suspicious first


def test_a_few_confident_frames_are_not_diluted_but_one_is_not_enough():
    many_low = np.full(12, -4.0)
    one_spike = many_low.copy()
    one_spike[3] = 6.0
    three_spikes = many_low.copy()
    three_spikes[[1, 5, 9]] = 6.0  # k = 3
    zeros = np.zeros(12)
    assert aggregate_video(zeros, np.arange(12), three_spikes).logit == pytest.approx(6.0)
    assert aggregate_video(zeros, np.arange(12), one_spike).logit == pytest.approx((6 - 4 - 4) / 3)


def test_most_suspicious_track_wins_and_calibration_is_applied():
    tracks = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    logits = np.array([-2.0, -1.0, -3.0, 0.5, 3.0, 1.0, 2.0, 2.5])
    cal = TemperatureScaler(2.0)
    score = aggregate_video(tracks, np.arange(8), logits, calibrator=cal)
    assert score.track_id == 1
    assert score.logit == pytest.approx(3.0)
    assert score.probability == pytest.approx(sigmoid(1.5), rel=1e-6)
    assert [t.track_id for t in score.tracks] == [0, 1, 2]
    assert score.track(2).logit == pytest.approx(2.5)


def test_ties_go_to_the_lower_track_id():
    score = aggregate_video([7, 3], [0, 0], [1.0, 1.0])
    assert score.track_id == 3


def test_result_is_frozen_and_inputs_are_checked():
    score = aggregate_video([0], [0], [0.0])
    with pytest.raises(AttributeError):
        score.probability = 1.0
    with pytest.raises(ValueError, match="insufficient"):
        aggregate_video([], [], [])
    with pytest.raises(ValueError, match="differ in length"):
        aggregate_video([0, 0], [0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        aggregate_video([0], [0], [math.nan])
    with pytest.raises(ValueError, match="top_frac"):
        aggregate_video([0], [0], [1.0], top_frac=0)
