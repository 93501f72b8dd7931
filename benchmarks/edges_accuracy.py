"""Edge/blending and spectrum models on held-out identities: AUC and cost per face.

Real faces come from ../shared/data (photos + every 15th video frame), split by identity exactly
as in training (forensics.facedata.split_samples: identity_split, or with --testset the test set's
validation and test videos, as the shipped models were trained); only held-out identities are used here, with
fresh self-blends (another seed than training). Both the real face and its self-blend are
JPEG-compressed at quality 75 before alignment. Timing is the feature extraction of one aligned
128 px crop (the crop itself is shared with other analyzers by the scan's CropCache).

Usage: python benchmarks/edges_accuracy.py [--data ../shared/data] [--cache real_faces.npz] [--seed 7]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from forensics.edges import EdgeModel, edge_features
from forensics.facedata import heldout_sources, load_or_collect, split_samples
from forensics.spectrum import SpectrumModel, radial_spectrum
from forensics.train_edges import DEFAULT_DATA, auc, jpeg, pair_images
from generator.resample import upsample_fake


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quality", type=int, default=75)
    ap.add_argument("--testset", type=Path, nargs="*", default=None, metavar="DIR",
                    help="held-out faces are these test sets' validation/test videos (as the models were trained with)")
    args = ap.parse_args()

    samples = load_or_collect(args.data, args.cache)
    _, test = split_samples(samples, heldout_sources(args.testset))
    rng = np.random.default_rng(args.seed)
    edges, spectrum = EdgeModel(), SpectrumModel()
    y, s_edge, s_spec, crops = [], [], [], []
    y_up, s_up = [], []
    for s in test:
        reals, fakes = pair_images(s, rng, args.quality)
        for label, group in ((0, reals), (1, fakes)):
            for img, mask in group:
                y.append(label)
                s_edge.append(edges.score(img, mask))
                s_spec.append(spectrum.score(img))
                crops.append((img, mask))
        real_img = reals[0][0]
        up, _ = upsample_fake(real_img, rng)
        y_up += [0, 1]
        s_up += [spectrum.score(real_img), spectrum.score(jpeg(up, args.quality))]

    # Cost per face: CPU time of one thread (the scan calls analyzers from one thread), best of 5
    # passes after a warm-up pass; the machine is shared, so wall time is printed beside it.
    cv2.setNumThreads(1)
    cpu, wall = [], []
    for _ in range(6):
        t0, w0 = time.process_time(), time.perf_counter()
        for img, mask in crops:
            edge_features(img, mask)
        cpu.append((time.process_time() - t0) / len(crops) * 1000)
        wall.append((time.perf_counter() - w0) / len(crops) * 1000)
    ms_edge, ms_edge_wall = min(cpu[1:]), min(wall[1:])
    t0 = time.perf_counter()
    for img, _ in crops:
        radial_spectrum(img)
    ms_spec = (time.perf_counter() - t0) / len(crops) * 1000

    n_id = len({s.identity for s in test})
    print(f"held-out: {len(test)} real faces of {n_id} identities, each vs one self-blend, JPEG q{args.quality}")
    print(f"edges    AUC self-blend vs original = {auc(np.array(y), np.array(s_edge)):.3f}   features {ms_edge:.2f} ms CPU/face "
          f"(wall {ms_edge_wall:.2f} ms on this shared machine)")
    print(f"spectrum AUC self-blend vs original = {auc(np.array(y), np.array(s_spec)):.3f}   "
          f"upsampled vs original = {auc(np.array(y_up), np.array(s_up)):.3f}   features {ms_spec:.2f} ms/face")


if __name__ == "__main__":
    main()
