from __future__ import annotations

import numpy as np
import pytest

from fakescope.core.analyzers import CropCache
from fakescope.core.faces import align_face
from fakescope.core.types import FaceObservation, VideoInfo
from forensics.jsonmodel import JsonClassifier
from forensics.spectrum import (
    N_BINS,
    SpectrumAnalyzer,
    SpectrumModel,
    radial_spectrum,
    train_spectrum,
)
from generator.resample import upsample_fake


@pytest.fixture(scope="module")
def crop(face):
    img, lm = face
    return align_face(img, lm, 128).image


def test_shape_and_contrast_invariance(crop):
    s = radial_spectrum(crop)
    assert s.shape == (N_BINS,) and np.all(np.isfinite(s))
    half_contrast = (crop.astype(np.float32) * 0.5 + 60).astype(np.uint8)
    assert np.abs(radial_spectrum(half_contrast) - s).max() < 0.15  # rounding noise only


def test_upsampled_image_loses_high_frequency_power(crop):
    s = radial_spectrum(crop)
    up, params = upsample_fake(crop, np.random.default_rng(0))
    u = radial_spectrum(up)
    high = slice(3 * N_BINS // 4, N_BINS)
    low = slice(1, N_BINS // 8)
    # spectra are normalised to zero mean, so compare the high band relative to the low band
    tilt_real = s[high].mean() - s[low].mean()
    tilt_up = u[high].mean() - u[low].mean()
    assert tilt_up < tilt_real - 0.8
    assert 0.35 <= params["factor"] <= 0.7


def test_white_noise_spectrum_is_flat():
    rng = np.random.default_rng(1)
    s = radial_spectrum(rng.integers(0, 256, (128, 128), dtype=np.uint8))
    assert np.ptp(s[4:]) < 0.5


def test_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        radial_spectrum(np.zeros((10, 12), np.uint8))


def test_train_spectrum_separates_upsampled_and_round_trips(crop):
    rng = np.random.default_rng(2)
    real, fake = [], []
    for _ in range(20):
        shift = rng.integers(-6, 7, size=2)
        img = np.roll(crop, tuple(shift), axis=(0, 1))
        real.append(img)
        fake.append(upsample_fake(img, rng)[0])
    model = train_spectrum(real, fake)
    loaded = JsonClassifier.from_json(model.to_json())
    sm = SpectrumModel(loaded)
    assert np.mean([sm.score(f) for f in fake]) > np.mean([sm.score(r) for r in real]) + 0.5


def test_analyzer(face, crop):
    img, lm = face
    real = [crop, np.fliplr(crop).copy()]
    model = SpectrumModel(train_spectrum(real * 3, [upsample_fake(r, np.random.default_rng(k))[0] for k, r in enumerate(real * 3)]))
    an = SpectrumAnalyzer(every=2, model=model)
    an.start(VideoInfo("v.mp4", 4, 25.0, 160, 160, 0.16))
    crops = CropCache()
    for i in range(4):
        crops.reset(i, img)
        an.update(i, i / 25, img, [FaceObservation(i, i / 25, 0, (0, 0, 160, 160), lm)], crops)
    ev = an.finish()[0]
    assert ev.analyzer == "spectrum" and ev.status == "insufficient" and ev.score == 0.5
    assert [p[0] for p in ev.details["per_frame"]] == [0, 2]
