"""Train the first spectrum model: real crops vs self-blends and down-up resized ("upsampled") crops.

This is a stand-in until the project's generator produces swaps to train on; the held-out AUC it
prints is against these pseudo-fakes only, not against real generator output.

    python -m forensics.train_spectrum [--data ../shared/data] [--cache real_faces.npz] [--testset TESTSET_DIR]
        [--out forensics/weights/spectrum.json]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fakescope.core.faces import align_face
from forensics.facedata import FaceSample, heldout_sources, load_or_collect, split_description, split_samples
from forensics.spectrum import CROP_SIZE, WEIGHTS, radial_spectrum, train_spectrum, upsample_fake
from forensics.train_edges import DEFAULT_DATA, auc, data_hash, jpeg, train_quality
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


def main() -> None:
    ap = argparse.ArgumentParser(description="Train the spectrum model (forensics/weights/spectrum.json).")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--testset", type=Path, nargs="*", default=None, metavar="DIR",
                    help="never train on faces of these test sets' validation/test videos (hold them out instead)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    samples = load_or_collect(args.data, args.cache)
    holdout = heldout_sources(args.testset)
    train, test = split_samples(samples, holdout)
    r_tr, f_tr = crops_for(train, args.seed)
    r_te, f_te = crops_for(test, args.seed + 1, lambda _r: 75)
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
        "crop_size": CROP_SIZE, "seed": args.seed, "data_hash": data_hash(samples), "metrics": metrics,
        "split": split_description(holdout)})
    model.save(args.out)
    print(f"spectrum model -> {args.out}: held-out AUC at JPEG 75 = {metrics['heldout_auc_jpeg75']:.3f} "
          f"(self-blend {metrics['heldout_auc_selfblend']:.3f}, upsampled {metrics['heldout_auc_upsampled']:.3f}; "
          f"{time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
