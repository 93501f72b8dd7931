"""How much of a cross-dataset score could sharpness alone earn, and is it the face's or the frame's?

    python benchmarks/crossdataset_sharpness.py [--cross ../shared/data/crossdataset/dfdc_faces/manifest.csv]
        [--testset TESTSET_DIR]

Swapped faces are often blurrier than the frame they are pasted into, and detectors can learn
that. But a cross-dataset set can also differ in a way that has nothing to do with the swap: if
the fake videos were re-encoded at a lower quality than their originals, the whole frame is
blurrier, and a detector (or a one-number sharpness score) would be rewarded for reading the
encoder, a cue that fails on any blurry real upload. This separates the two.

Each image is landmarked (padded by reflection, as `detector eval` does) and aligned to 160 px
with a mask of where its own pixels lie. Sharpness is the log variance of the Laplacian over
(a) the face: the landmark hull eroded by 8 px, and (b) the surroundings: a ring 3-14 px outside
the hull, over the image's own pixels only (never the reflection). Printed: the frame AUC of each
(lower sharpness = more fake, so above 0.5 means fakes are blurrier), of the face-minus-
surroundings difference, and, where the manifest names each fake's ``original`` video, the share
of fake videos whose face and whose surroundings are blurrier than their own original's. With
``--testset``, the same on its test-split crops for comparison with our own fakes.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from detector.crosseval import MARGIN, PAD
from fakescope.core.faces import align_face, landmarks_padded
from fakescope.core.manifest import manifest_path, read_manifest
from fakescope.core.metrics import roc_auc

SIZE = 160


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def face_and_surroundings(crop_bgr: np.ndarray, hull: np.ndarray, own: np.ndarray) -> tuple[float, float] | None:
    """log Laplacian variance over the eroded hull and over a ring outside it (own pixels only)."""
    g = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    lap = cv2.Laplacian(g, cv2.CV_32F)
    h = (hull > 0).astype(np.uint8)
    inner = cv2.erode(h, _disk(8)) > 0
    ring = (cv2.dilate(h, _disk(14)) > 0) & ~(cv2.dilate(h, _disk(3)) > 0) & (cv2.erode(own.astype(np.uint8), _disk(3)) > 0)
    if inner.sum() < 200 or ring.sum() < 80:
        return None
    return float(np.log(lap[inner].var() + 1e-3)), float(np.log(lap[ring].var() + 1e-3))


def manifest_sharpness(manifest: Path) -> list[tuple[int, str, str, float, float]]:
    """(label, video, original, face, surroundings) for every image with a face."""
    from tqdm import tqdm

    base = manifest.resolve().parent
    out = []
    for r in tqdm(read_manifest(manifest), desc="landmarking", unit="image", mininterval=5):
        img = cv2.imread(str(base / r["path"]), cv2.IMREAD_COLOR)
        found = landmarks_padded(img, PAD) if img is not None else None
        if found is None:
            continue
        padded, lm = found
        h, w = img.shape[:2]
        py, px = round(h * PAD), round(w * PAD)
        own = np.zeros(padded.shape[:2], np.uint8)
        own[py:py + h, px:px + w] = 1
        a = align_face(padded, lm, size=SIZE, margin=MARGIN)  # as `detector eval` aligns it
        own_a = cv2.warpAffine(own, a.matrix, (SIZE, SIZE), flags=cv2.INTER_NEAREST, borderValue=0)
        s = face_and_surroundings(a.image, a.mask, own_a)
        if s is not None:
            out.append((int(r["label"] == "fake"), r.get("video", r["path"]), r.get("original", ""), *s))
    return out


def testset_sharpness(testset: Path) -> list[tuple[int, str, float, float]]:
    """(label, method, face, surroundings) for every stored test-split crop of a test set."""
    rows = [r for r in read_manifest(testset) if r["split"] == "test"]
    out = []
    for r in rows:
        with np.load(testset / r["crops"], allow_pickle=False) as z:
            for img, mask in zip(z["images"], z["masks"], strict=True):
                s = face_and_surroundings(img, mask, np.ones(mask.shape, bool))
                if s is not None:
                    out.append((int(r["label"] == "fake"), r["method"], *s))
    return out


def _blur_auc(y: np.ndarray, sharp: np.ndarray) -> float:
    return roc_auc(y, -sharp)  # blurrier = more fake


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cross", default="../shared/data/crossdataset/dfdc_faces/manifest.csv")
    ap.add_argument("--testset", type=Path, help="also measure our own test split (stored crops)")
    args = ap.parse_args()

    rows = manifest_sharpness(manifest_path(args.cross))
    y = np.array([r[0] for r in rows])
    face, sur = np.array([r[3] for r in rows]), np.array([r[4] for r in rows])
    print(f"{args.cross}: {len(rows)} images with a face ({int(y.sum())} fake)")
    print(f"  blur AUC  face {_blur_auc(y, face):.3f}  surroundings {_blur_auc(y, sur):.3f}  "
          f"face minus surroundings {_blur_auc(y, face - sur):.3f}")
    by_video: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for lab, video, _orig, f, s in rows:
        if not lab:
            by_video[video].append((f, s))
    pairs = []
    for lab, _video, orig, f, s in rows:
        if lab and orig in by_video:
            ref = np.mean(by_video[orig], axis=0)
            pairs.append((f - ref[0], s - ref[1]))
    if pairs:
        d = np.array(pairs)
        print(f"  {len(d)} fake crops whose original video has real crops here: face blurrier than the original's "
              f"in {np.mean(d[:, 0] < 0):.0%} (median {np.median(d[:, 0]):+.2f} log-variance), surroundings "
              f"blurrier in {np.mean(d[:, 1] < 0):.0%} (median {np.median(d[:, 1]):+.2f})")
    if args.testset:
        t = testset_sharpness(args.testset)
        yt = np.array([r[0] for r in t])
        ft, st = np.array([r[2] for r in t]), np.array([r[3] for r in t])
        print(f"{args.testset} test split: {len(t)} crops")
        print(f"  blur AUC  face {_blur_auc(yt, ft):.3f}  surroundings {_blur_auc(yt, st):.3f}  "
              f"face minus surroundings {_blur_auc(yt, ft - st):.3f}")


if __name__ == "__main__":
    main()
