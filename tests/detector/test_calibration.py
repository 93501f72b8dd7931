import numpy as np
import pytest

from detector.calibration import (
    IdentityCalibrator,
    IsotonicCalibrator,
    TemperatureScaler,
    brier_score,
    calibrator_from_dict,
    choose_threshold,
    make_calibrator,
    sigmoid,
)


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from sigmoid(z) while the detector reports 4 z: right ranking, far too sure."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, n)
    y = (rng.random(n) < sigmoid(z)).astype(int)
    return 4 * z, y


@pytest.mark.parametrize("method", ["temperature", "isotonic"])
def test_calibration_lowers_brier_on_held_out_data(method):
    logits, y = _overconfident(4000, seed=0)
    test_logits, test_y = _overconfident(4000, seed=1)
    cal = make_calibrator(method).fit(logits, y)
    before = brier_score(test_y, sigmoid(test_logits))
    after = brier_score(test_y, cal.predict_proba(test_logits))
    assert after < before - 0.01


def test_temperature_recovers_the_stretch():
    logits, y = _overconfident(20000, seed=2)
    assert TemperatureScaler().fit(logits, y).temperature == pytest.approx(4.0, rel=0.15)


@pytest.mark.parametrize("method", ["temperature", "isotonic", "none"])
def test_round_trip_through_config_dict(method):
    logits, y = _overconfident(500, seed=3)
    cal = make_calibrator(method).fit(logits, y)
    again = calibrator_from_dict(cal.to_dict())
    probe = np.linspace(-20, 20, 101)
    np.testing.assert_allclose(again.predict_proba(probe), cal.predict_proba(probe))


def test_isotonic_matches_sklearn_and_stays_off_zero_and_one():
    from sklearn.isotonic import IsotonicRegression

    logits, y = _overconfident(800, seed=4)
    cal = IsotonicCalibrator().fit(logits, y)
    probe = np.linspace(-30, 30, 301)
    ref = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(logits, y).predict(probe)
    p = cal.predict_proba(probe)
    np.testing.assert_allclose(p, np.clip(ref, 1e-4, 1 - 1e-4))
    assert p.min() > 0 and p.max() < 1 and np.all(np.diff(p) >= 0)


def test_fit_rejects_single_class_or_bad_labels():
    with pytest.raises(ValueError, match="both classes"):
        TemperatureScaler().fit(np.array([1.0, 2.0]), np.array([1, 1]))
    with pytest.raises(ValueError, match="0 \\(real\\) / 1 \\(fake\\)"):
        IsotonicCalibrator().fit(np.array([1.0, 2.0]), np.array([0, 2]))
    with pytest.raises(ValueError, match="unknown calibration"):
        make_calibrator("platt")
    assert isinstance(calibrator_from_dict(None), IdentityCalibrator)


def test_threshold_separates_separable_scores_with_margin():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.9])
    t = choose_threshold(y, p)
    assert t == pytest.approx(0.45)
    assert np.array_equal(p >= t, y == 1)


def test_youden_threshold_ignores_class_imbalance():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(0.3, 0.05, 5000), rng.normal(0.6, 0.05, 50)
    y = np.r_[np.zeros(real.size), np.ones(fake.size)]
    t = choose_threshold(y, np.r_[real, fake])
    assert 0.4 < t < 0.5  # near the midpoint, not pushed towards the majority class


def test_fpr_criterion_caps_false_positives():
    rng = np.random.default_rng(6)
    real, fake = rng.normal(0, 1, 2000), rng.normal(2, 1, 2000)
    y = np.r_[np.zeros(real.size), np.ones(fake.size)]
    t = choose_threshold(y, np.r_[real, fake], criterion="fpr", max_fpr=0.01)
    assert np.mean(real >= t) <= 0.01
    assert np.mean(fake >= t) > 0.2
