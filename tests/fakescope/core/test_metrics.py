import numpy as np
import pytest
from sklearn import metrics as skm

from fakescope.core import metrics as M


def _datasets():
    """Random labelled scores, with and without heavy ties, small to mid-sized."""
    rng = np.random.default_rng(123)
    out = []
    for n in (2, 3, 7, 40, 500):
        for tie_decimals in (None, 1):
            y = rng.integers(0, 2, n)
            y[0], y[-1] = 0, 1  # both classes present
            s = np.clip(rng.normal(0.35 + 0.3 * y, 0.25), 0, 1)
            if tie_decimals is not None:
                s = np.round(s, tie_decimals)
            out.append((y, s))
    return out


@pytest.mark.parametrize("y,s", _datasets())
def test_ranking_metrics_match_sklearn(y, s):
    assert M.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert M.average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)
    assert M.brier(y, s) == pytest.approx(skm.brier_score_loss(y, s), abs=1e-9)
    fpr, tpr, thr = M.roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-12)
    np.testing.assert_allclose(thr[1:], sk_thr[1:], atol=1e-12)
    precision, recall, pthr = M.pr_curve(y, s)
    sk_p, sk_r, sk_t = skm.precision_recall_curve(y, s)
    np.testing.assert_allclose(precision, sk_p[::-1], atol=1e-12)
    np.testing.assert_allclose(recall, sk_r[::-1], atol=1e-12)
    np.testing.assert_allclose(pthr[1:], sk_t[::-1], atol=1e-12)


@pytest.mark.parametrize("y,s", _datasets())
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.71, 1.0])
def test_thresholded_metrics_match_sklearn(y, s, threshold):
    pred = (s >= threshold).astype(int)
    assert M.accuracy_at(y, s, threshold) == pytest.approx(skm.accuracy_score(y, pred), abs=1e-9)
    assert M.f1_at(y, s, threshold) == pytest.approx(skm.f1_score(y, pred, zero_division=0.0), abs=1e-9)


def test_f1_zero_division_matches_sklearn_convention():
    # no fakes and nothing called fake: 0/0 -> 0.0
    assert M.f1_at([0, 0], [0.1, 0.2], 0.5) == 0.0
    assert skm.f1_score([0, 0], [0, 0], zero_division=0.0) == 0.0


def test_eer_on_a_roc_point():
    # scores sorted: 0.8 fake, 0.6 real, 0.4 fake, 0.1 real
    # ROC points (fpr, tpr): (0,0) (0,.5) (.5,.5) (.5,1) (1,1)
    # FNR - FPR: 1, .5, 0 -> the point (.5,.5) has FPR = FNR = .5 exactly
    assert M.eer([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8]) == pytest.approx(0.5, abs=1e-12)


def test_eer_interpolates_along_a_segment():
    # reals 0.3, 0.7; fakes 0.5, 0.8, 0.9
    # ROC: (0,0) (0,1/3) (0,2/3) (.5,2/3) (.5,1) (1,1)
    # FNR - FPR: 1, 2/3, 1/3, (1/3 - 1/2) = -1/6 -> crossing between (0,2/3) and (.5,2/3)
    # t = (1/3) / (1/3 + 1/6) = 2/3; FPR = 0 + 2/3 * .5 = 1/3; FNR = 1/3 all along the segment
    assert M.eer([0, 0, 1, 1, 1], [0.3, 0.7, 0.5, 0.8, 0.9]) == pytest.approx(1 / 3, abs=1e-12)


def test_eer_when_both_rates_move_on_a_tie():
    # reals 0.2, 0.6; fakes 0.6, 0.9 (0.6 is a tie between a real and a fake)
    # ROC: (0,0) (0,.5) (.5,1) (1,1); FNR - FPR: 1, .5, -.5
    # crossing between (0,.5) and (.5,1): t = .5/(.5+.5) = .5 -> FPR = .25, FNR = 1 - .75 = .25
    assert M.eer([0, 0, 1, 1], [0.2, 0.6, 0.6, 0.9]) == pytest.approx(0.25, abs=1e-12)


def test_eer_extremes():
    assert M.eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 0.0  # separable
    assert M.eer([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # all tied: chance
    assert M.eer([0, 0, 1, 1], [0.8, 0.9, 0.1, 0.2]) == pytest.approx(1.0)  # perfectly inverted


def test_tpr_at_fpr_uses_real_thresholds():
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    s = [0.1, 0.2, 0.3, 0.7, 0.6, 0.8, 0.9, 0.95]
    # with no false positive allowed the best threshold is 0.8: 3 of 4 fakes
    assert M.tpr_at_fpr(y, s, 0.0) == pytest.approx(0.75)
    assert M.tpr_at_fpr(y, s, 0.01) == pytest.approx(0.75)
    # one false positive (0.7) of 4 reals = 25% FPR admits threshold 0.6: all fakes
    assert M.tpr_at_fpr(y, s, 0.25) == pytest.approx(1.0)


def test_ece_hand_computed():
    y = [0, 1, 1, 0, 1]
    s = [0.05, 0.15, 0.55, 0.58, 0.95]
    # 10 equal-width bins:
    #   bin 0 [0, .1):  {.05}, fake share 0   -> |0 - .05|    = .05,  weight 1/5
    #   bin 1 [.1, .2): {.15}, fake share 1   -> |1 - .15|    = .85,  weight 1/5
    #   bin 5 [.5, .6): {.55,.58}, share .5   -> |.5 - .565|  = .065, weight 2/5
    #   bin 9 [.9, 1]:  {.95}, fake share 1   -> |1 - .95|    = .05,  weight 1/5
    # ECE = (.05 + .85 + 2 * .065 + .05) / 5 = 1.08 / 5 = .216
    assert M.expected_calibration_error(y, s) == pytest.approx(0.216, abs=1e-12)


def test_ece_bin_edges():
    # n_bins=2: bins [0, .5) and [.5, 1]; 0.5 and 1.0 both land in the upper bin
    # mean score .75, fake share 1 -> ECE .25
    assert M.expected_calibration_error([1, 1], [0.5, 1.0], n_bins=2) == pytest.approx(0.25)
    b = M.reliability_bins([1, 1], [0.5, 1.0], n_bins=2)
    assert b.counts.tolist() == [0, 2]
    # perfectly calibrated in each bin -> 0
    assert M.expected_calibration_error([0, 1, 1, 1], [0.25, 0.75, 0.75, 0.75], n_bins=4) == pytest.approx(
        0.25 * 0.25 + 0.75 * 0.25)


@pytest.mark.parametrize("fn", [M.roc_auc, M.average_precision, M.eer, M.roc_curve, M.pr_curve, M.tpr_at_fpr])
def test_single_class_is_a_clear_error(fn):
    with pytest.raises(ValueError, match="both real and fake"):
        fn([1, 1, 1], [0.2, 0.5, 0.9])


def test_input_validation_messages():
    with pytest.raises(ValueError, match="NaN"):
        M.roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="one score per item"):
        M.roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="only 0"):
        M.roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.brier([0, 1], [0.1, 1.5])
    with pytest.raises(ValueError, match="empty"):
        M.brier([], [])
    # single-class input is fine where the metric is defined
    assert M.brier([1, 1], [1.0, 0.5]) == pytest.approx(0.125)


def _sample(n, rng):
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y)))
    return y, s


@pytest.mark.parametrize("fn", [M.roc_auc, M.average_precision, M.eer])
def test_bootstrap_contains_estimate_and_shrinks_with_data(fn):
    rng = np.random.default_rng(7)
    y, s = _sample(80, rng)
    small = M.bootstrap_ci(fn, y, s, n_boot=400, seed=1)
    y10, s10 = _sample(800, rng)
    big = M.bootstrap_ci(fn, y10, s10, n_boot=400, seed=1)
    for ci in (small, big):
        assert ci.low <= ci.estimate <= ci.high
        assert ci.n_failed == 0
    assert small.estimate == pytest.approx(fn(y, s))
    # width should scale ~ 1/sqrt(10) = 0.32; allow generous slack for bootstrap noise
    assert (big.high - big.low) < 0.6 * (small.high - small.low)


def test_bootstrap_is_stratified_and_seeded():
    rng = np.random.default_rng(0)
    y, s = _sample(30, rng)
    seen_pos = []

    def count_pos(yy, ss):
        seen_pos.append(int(yy.sum()))
        return M.roc_auc(yy, ss)

    a = M.bootstrap_ci(count_pos, y, s, n_boot=50, seed=3)
    b = M.bootstrap_ci(M.roc_auc, y, s, n_boot=50, seed=3)
    assert set(seen_pos) == {int(y.sum())}  # every resample keeps the class counts
    # the wrapper goes through explicit resampled arrays, roc_auc through weighted counts:
    # same resamples, same numbers
    assert (a.low, a.high) == pytest.approx((b.low, b.high), abs=1e-12)


@pytest.mark.parametrize("fn", [M.roc_auc, M.average_precision, M.eer])
def test_bootstrap_fast_path_equals_explicit_resampling(fn):
    rng = np.random.default_rng(2)
    y, s = _sample(50, rng)
    s = np.round(s, 1)  # ties
    groups = np.arange(50) // 2 * 2 + y  # pairs of same-label items
    for g in (None, groups):
        fast = M.bootstrap_ci(fn, y, s, n_boot=200, seed=4, groups=g)
        slow = M.bootstrap_ci(lambda yy, ss: fn(yy, ss), y, s, n_boot=200, seed=4, groups=g)
        assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), abs=1e-12)
    together = M.bootstrap_cis({"auc": M.roc_auc, "eer": M.eer}, y, s, n_boot=200, seed=4)
    assert together["auc"] == M.bootstrap_ci(M.roc_auc, y, s, n_boot=200, seed=4)


def test_bootstrap_degenerate_resamples_are_skipped():
    rng = np.random.default_rng(0)
    y, s = _sample(30, rng)
    calls = {"n": 0}

    def flaky(yy, ss):
        calls["n"] += 1
        if calls["n"] % 4 == 0:
            raise ValueError("undefined on this resample")
        return M.roc_auc(yy, ss)

    ci = M.bootstrap_ci(flaky, y, s, n_boot=100, seed=0)
    assert ci.n_failed == 25  # calls 4, 8, ... among the 100 resamples after the point estimate
    assert ci.low <= ci.estimate <= ci.high

    # a metric undefined on (nearly) every resample gives NaN bounds, not a fake interval
    ci = M.bootstrap_ci(lambda yy, ss: float("nan"), y, s, n_boot=10)
    assert np.isnan(ci.low) and np.isnan(ci.high) and ci.n_failed == 10


def test_cluster_bootstrap_is_wider_for_correlated_frames():
    # 20 videos x 10 frames; frames of a video share the video's score (perfect correlation)
    rng = np.random.default_rng(5)
    yv, sv = _sample(20, rng)
    y = np.repeat(yv, 10)
    s = np.repeat(sv, 10)
    groups = np.repeat(np.arange(20), 10)
    naive = M.bootstrap_ci(M.roc_auc, y, s, n_boot=300, seed=0)
    clustered = M.bootstrap_ci(M.roc_auc, y, s, n_boot=300, seed=0, groups=groups)
    assert clustered.estimate == naive.estimate
    assert (clustered.high - clustered.low) > 1.8 * (naive.high - naive.low)
    with pytest.raises(ValueError, match="single class"):
        M.bootstrap_ci(M.roc_auc, [0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], groups=[0, 0, 1, 1])
