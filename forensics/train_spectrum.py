"""Train the first spectrum model: real crops vs self-blends and down-up resized ("upsampled") crops.

This is a stand-in until the project's generator produces swaps to train on; the held-out AUC it
prints is against these pseudo-fakes only, not against real generator output.

    fakescope forensics train spectrum [--data ../shared/data] [--cache real_faces.npz] [--testset TESTSET_DIR]
        [--out forensics/weights/spectrum.json] [--seed 0]

That command calls :func:`fit_spectrum_model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core.faces import align_face
from forensics.facedata import FaceSample, split_description, split_samples
from forensics.spectrum import CROP_SIZE, WEIGHTS, radial_spectrum, train_spectrum
from forensics.train_edges import DEFAULT_DATA, auc, collect_training_faces, data_hash, jpeg, train_quality
from generator.resample import upsample_fake
from generator.selfblend import self_blend


def crops_for(samples: Sequence[FaceSample], seed: int, quality=train_quality) -> tuple[list[np.ndarray], list[np.ndarray]]:  # noqa: ANN001
    """Aligned real crops and as many fakes (alternating self-blend / upsampled), JPEG per draw."""
    rng = np.random.default_rng(seed)
    real, fake = [], []
    for k, s in enumerate(samples):
        q = quality(rng)
        real.append(align_face(jpeg(s.region, q), s.landmarks, CROP_SIZE).image)
        if k % 2 == 0:
            blended, _, _ = self_blend(s.region, s.landmarks, rng)
            fake.append(align_face(jpeg(blended, q), s.landmarks, CROP_SIZE).image)
        else:
            crop = align_face(s.region, s.landmarks, CROP_SIZE).image
            up, _ = upsample_fake(crop, rng)
            fake.append(jpeg(up, q))
    return real, fake


def fit_spectrum_model(data: Path = DEFAULT_DATA, cache: Path | None = None, out: Path = WEIGHTS, seed: int = 0,
                       testsets: Sequence[Path] | None = None) -> dict[str, Any]:
    """Collect real faces, fit the spectrum model on the train identities and save it to ``out``.

    Returns the held-out metrics (``heldout_auc_jpeg75``, ``heldout_auc_selfblend``,
    ``heldout_auc_upsampled``, ``test_faces``). ``out`` is written only once training succeeded
    (atomically), so a failure leaves it as it was.
    """
    samples, holdout = collect_training_faces(data, cache, testsets)
    train, test = split_samples(samples, holdout)
    if not train or not test:
        raise ValueError("need faces of several identities to hold some out; add more real data")
    r_tr, f_tr = crops_for(train, seed)
    r_te, f_te = crops_for(test, seed + 1, lambda _r: 75)
    held = train_spectrum(r_tr, f_tr)  # same fit as the saved model below
    x_te = np.stack([radial_spectrum(im) for im in r_te + f_te])
    y_te = np.r_[np.zeros(len(r_te)), np.ones(len(f_te))]
    p = held.predict_proba(x_te)
    half = len(r_te)
    sb = np.r_[p[:half], p[half:][0::2]]
    up = np.r_[p[:half], p[half:][1::2]]
    metrics = {
        "heldout_auc_jpeg75": auc(y_te, p),
        "heldout_auc_selfblend": auc(np.r_[np.zeros(half), np.ones(len(sb) - half)], sb),
        "heldout_auc_upsampled": auc(np.r_[np.zeros(half), np.ones(len(up) - half)], up),
        "test_faces": len(test),
    }
    model = train_spectrum(r_tr, f_tr, meta={  # train identities only: the benchmark measures held-out ones
        "trained_on": "real vs self-blend + down-up resized crops (stand-in until generator swaps exist)",
        "crop_size": CROP_SIZE, "seed": seed, "data_hash": data_hash(samples), "metrics": metrics,
        "split": split_description(holdout)})
    model.save(Path(out))
    return metrics
