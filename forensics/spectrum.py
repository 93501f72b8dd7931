"""Azimuthally averaged power spectrum of face crops (Durall et al., 2020) and a linear model on it.

Why: generators build images by upsampling (transposed convolutions, interpolation); that leaves
too little, or periodically wrong, energy at the highest spatial frequencies, which shows in the
1-D radial power spectrum as a tail that drops off or bumps. The feature is one number per
frequency ring, log power, normalised so overall contrast does not matter.

Training data so far: self-blends and down-up resized ("upsampled") crops vs real crops; a model
trained on the project's own generator swaps should replace it (``train_spectrum`` takes any
labelled crops).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from forensics.jsonmodel import JsonClassifier
from forensics.sampled import SampledCropAnalyzer

N_BINS = 64
CROP_SIZE = 128
WEIGHTS = Path(__file__).resolve().parent / "weights" / "spectrum.json"
FEATURE_NAMES = tuple(f"r{k:02d}" for k in range(N_BINS))


@lru_cache(maxsize=8)
def _geometry(size: int, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hann window, radial bin index of each rfft2 coefficient, and per-bin counts."""
    win = np.outer(np.hanning(size), np.hanning(size)).astype(np.float32)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    r = np.sqrt(fx**2 + fy**2) / 0.5  # 1.0 = Nyquist along an axis
    idx = np.minimum((r * n_bins).astype(np.int64), n_bins)  # corners beyond Nyquist go to bin n_bins (dropped)
    counts = np.bincount(idx.ravel(), minlength=n_bins + 1)[:n_bins]
    return win, idx.ravel(), np.maximum(counts, 1)


def radial_spectrum(image: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """1-D log power spectrum of a square crop (BGR or gray), low to high frequency.

    The crop's mean is removed and a Hann window applied so the crop borders do not add a
    spurious cross of energy. Normalised by subtracting the mean log power, so scaling the
    image's contrast shifts nothing.
    """
    img = np.asarray(image)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if img.ndim != 2 or img.shape[0] != img.shape[1]:
        raise ValueError(f"radial_spectrum needs a square image (an aligned face crop), got shape {img.shape}")
    g = img.astype(np.float32)
    win, idx, counts = _geometry(g.shape[0], n_bins)
    g = (g - g.mean()) * win
    power = np.abs(np.fft.rfft2(g)) ** 2
    # rfft2 stores half the plane: columns 1..N/2-1 stand for two coefficients each
    weight = np.full(power.shape, 2.0, np.float64)
    weight[:, 0] = 1.0
    if g.shape[1] % 2 == 0:
        weight[:, -1] = 1.0
    sums = np.bincount(idx, weights=(power * weight).ravel(), minlength=n_bins + 1)[:n_bins]
    cnt = np.bincount(idx, weights=weight.ravel(), minlength=n_bins + 1)[:n_bins]
    spec = np.log10(sums / np.maximum(cnt, 1.0) + 1e-8)
    return (spec - spec.mean()).astype(np.float32)


@lru_cache(maxsize=4)
def load_spectrum_model(path: str | None = None) -> JsonClassifier:
    model = JsonClassifier.load(Path(path) if path else WEIGHTS, "fakescope forensics train spectrum")
    if len(model.feature_names) != N_BINS:
        raise ValueError(f"{path or WEIGHTS} expects {len(model.feature_names)} bins, this code makes {N_BINS}; retrain it")
    return model


class SpectrumModel:
    """P(fake) of one aligned face crop from its radial spectrum (logistic regression)."""

    def __init__(self, model: JsonClassifier | None = None) -> None:
        self.model = model or load_spectrum_model()

    def score(self, image: np.ndarray) -> float:
        return float(self.model.predict_proba(radial_spectrum(image))[0])


def train_spectrum(real: Sequence[np.ndarray], fake: Sequence[np.ndarray], c: float = 0.1,
                   meta: dict[str, Any] | None = None) -> JsonClassifier:
    """Fit standardise + logistic regression on crops labelled real / fake (any source of fakes)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not real or not fake:
        raise ValueError("train_spectrum needs both real and fake crops")
    x = np.stack([radial_spectrum(im) for im in list(real) + list(fake)])
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    t0 = time.perf_counter()
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000)).fit(x, y)
    info = {"n_real": len(real), "n_fake": len(fake), "C": c, "fit_seconds": round(time.perf_counter() - t0, 2)}
    info.update(meta or {})
    return JsonClassifier.from_sklearn(pipe, FEATURE_NAMES, info)


class SpectrumAnalyzer(SampledCropAnalyzer):
    """Analyzer protocol: scores every ``every``-th frame's aligned crop per track (forensics.sampled)."""

    name = "spectrum"

    def __init__(self, every: int = 5, size: int = CROP_SIZE, min_frames: int = 3, model: SpectrumModel | None = None) -> None:
        super().__init__(every, size, min_frames)
        self._model = model

    def _reset(self) -> None:
        if self._model is None:
            self._model = SpectrumModel()

    def _score(self, crop: Any) -> float | None:
        assert self._model is not None, "start() must be called before update()"
        return self._model.score(crop.image)

    def _details(self, pairs: list[tuple[int, float]]) -> dict[str, Any]:
        return {"model": "self-blend + upsampling pseudo-fakes (not yet trained on generator swaps)"}


def make_analyzer(config: object = None) -> SpectrumAnalyzer:
    if not WEIGHTS.exists():
        raise LookupError("spectrum model weights are not installed (forensics/weights/spectrum.json)")
    return SpectrumAnalyzer()
