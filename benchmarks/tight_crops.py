"""Do tight face crops (as cross-dataset sets ship them) explain chance-level cross-dataset scores?

    python benchmarks/tight_crops.py --testset TESTSET_DIR [--detector default ...]
        [--cross ../shared/data/crossdataset/dfdc_faces/manifest.csv] [--cache DIR]

Face-crop datasets such as DFDC's dev crops are tight: the face fills the image. `detector eval`
pads each one by reflection and aligns it as the scan does, so much of the aligned crop around the
face is mirrored face instead of the scene our training crops show. This measures the effect of
that format alone:

1. With ``--cross``: where each cross-dataset image's own pixels fall in the aligned crop (the
   rest is reflection), as percentiles of its edges over a random sample of images.
2. Each detector's frame AUC on the test split of ``--testset``, as stored and with every crop cut
   to a random box drawn from those ranges and padded back by reflection (same seed for every
   detector). If the two agree, the format is not what costs the detector its accuracy.
3. With ``--cross``: the forensic edge and spectrum models' frame AUC on the aligned
   cross-dataset crops, as a measure of whether any hand-made cue transfers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from detector.crosseval import MARGIN, PAD, align_manifest
from detector.data import load_crops
from detector.io import load_model
from fakescope.core.faces import alignment_matrix, landmarks_padded
from fakescope.core.manifest import manifest_path, read_manifest
from fakescope.core.metrics import roc_auc

# Where a DFDC dev image's own pixels lie in its aligned crop (fractions of the side; medians of
# this script's first part on 150 images were 0.17, 0.82, 0.28, 0.92): used when --cross is absent.
DEFAULT_BOX = {"left": (0.08, 0.24), "right": (0.75, 0.92), "top": (0.18, 0.36), "bottom": (0.85, 1.0)}


def image_boxes(manifest: Path, n: int, seed: int) -> dict[str, tuple[float, float]]:
    """5th-95th percentile of each edge of the images' own area in their aligned crops."""
    import csv

    base = manifest.resolve().parent
    rows = list(csv.DictReader(manifest.open()))
    pick = np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False)
    edges = []
    for k in pick:
        img = cv2.imread(str(base / rows[int(k)]["path"]), cv2.IMREAD_COLOR)
        found = landmarks_padded(img, PAD) if img is not None else None
        if found is None:
            continue
        h, w = img.shape[:2]
        py, px = round(h * PAD), round(w * PAD)
        m = alignment_matrix(found[1], 1.0, MARGIN)
        c = np.array([[px, py], [px + w, py], [px + w, py + h], [px, py + h]], float) @ m[:, :2].T + m[:, 2]
        edges.append([c[:, 0].min(), c[:, 0].max(), c[:, 1].min(), c[:, 1].max()])
    if not edges:
        print(f"{manifest}: no face in the {len(pick)} sampled images; using the DFDC ranges")
        return DEFAULT_BOX
    e = np.array(edges)
    print(f"{manifest}: {len(e)} of {len(pick)} sampled images with a face; their own pixels in the aligned crop "
          "(5th / 50th / 95th percentile of each edge, fraction of the side):")
    out = {}
    for i, name in enumerate(("left", "right", "top", "bottom")):
        p5, p50, p95 = np.percentile(e[:, i], [5, 50, 95])
        print(f"  {name:6s} {p5:.2f} / {p50:.2f} / {p95:.2f}")
        out[name] = (float(p5), float(p95))
    return out


def tighten(img: np.ndarray, rng: np.random.Generator, box: dict[str, tuple[float, float]]) -> np.ndarray:
    """The crop cut to a random box of ``box``'s ranges and padded back to its size by reflection."""
    s = img.shape[0]
    x0, x1 = int(rng.uniform(*box["left"]) * s), int(np.ceil(min(rng.uniform(*box["right"]), 1.0) * s))
    y0, y1 = int(rng.uniform(*box["top"]) * s), int(np.ceil(min(rng.uniform(*box["bottom"]), 1.0) * s))
    return cv2.copyMakeBorder(img[y0:y1, x0:x1], y0, s - y1, x0, s - x1, cv2.BORDER_REFLECT_101)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testset", type=Path, required=True, help="a test set whose test split is scored")
    ap.add_argument("--detector", action="append", default=None, help="name or model dir (default: default)")
    ap.add_argument("--cross", type=Path, default=None, help="a crossdataset manifest (path,label) of tight crops")
    ap.add_argument("--sample", type=int, default=150, help="cross-dataset images sampled for the box ranges")
    ap.add_argument("--cache", type=Path, default=None, help="aligned-crop cache of `detector eval --cache`")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    box = DEFAULT_BOX
    cross = manifest_path(args.cross) if args.cross else None
    if cross is not None:
        box = image_boxes(cross, args.sample, args.seed)
    for name in args.detector or ["default"]:
        det = load_model(name)
        if det.needs_mask:
            print(f"{name}: reads a face-mask plane, which a reflection-padded crop has no counterpart for; skipped")
            continue
        test = load_crops([args.testset], det.crop_size).splits["test"]
        rng = np.random.default_rng(args.seed)
        tight = np.stack([tighten(im, rng, box) for im in test.images])
        plain_auc = roc_auc(test.labels, det.predict_logits_and_distance(test.images)[0])  # raw: no familiarity shrink
        tight_auc = roc_auc(test.labels, det.predict_logits_and_distance(tight)[0])
        print(f"{name}: test frame AUC {plain_auc:.3f} as stored, {tight_auc:.3f} as tight crops padded by "
              f"reflection ({len(test.labels)} crops)")
    if cross is not None:
        from forensics.edges import EdgeModel
        from forensics.spectrum import CROP_SIZE, SpectrumModel

        # aligned at the detectors' stored-crop size (160 px: the cache `detector eval` fills), then
        # resized to the analyzers' 128 px
        photos = align_manifest(cross, 160, args.cache)
        y = photos.labels[photos.found]
        edges, spectrum = EdgeModel(), SpectrumModel()
        e, s = [], []
        for big, big_mask in zip(photos.crops[photos.found], photos.masks[photos.found], strict=True):
            img = cv2.resize(big, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(big_mask, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)
            try:
                e.append(edges.score(img, mask.astype(np.float32) / 255))
            except ValueError:  # degenerate mask
                e.append(np.nan)
            s.append(spectrum.score(img))
        ok = ~np.isnan(np.array(e))
        print(f"{cross} ({len(read_manifest(cross))} images, {len(y)} with a face): edge model frame AUC "
              f"{roc_auc(y[ok], np.array(e)[ok]):.3f}, spectrum model {roc_auc(y, np.array(s)):.3f}")


if __name__ == "__main__":
    main()
