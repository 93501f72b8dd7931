"""Face crops of one or more test-set directories, grouped by split, ready for training.

Layout (issue 4): ``DIR/manifest.csv`` with ``label``, ``method``, ``split`` and ``crops`` (an .npz
relative to DIR holding ``images`` (N, S, S, 3) uint8 BGR and ``frames`` (N,)). Crops are resized
to the model input once at load time so an epoch does no resizing of clean pixels, and each video
contributes at most ``max_frames_per_video`` evenly spaced crops so long videos cannot dominate
memory or the loss.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fakescope.core.hashing import sha256_file
from fakescope.core.manifest import PHOTO_METHOD, SPLITS, manifest_path, read_manifest


@dataclass(frozen=True)
class CropSplit:
    images: np.ndarray  # (N, S, S, 3) uint8 BGR at the model input size
    labels: np.ndarray  # (N,) int64, 1 = fake
    video: np.ndarray  # (N,) int64 index into video_* arrays
    frames: np.ndarray  # (N,) int64 frame index within its video
    video_labels: np.ndarray  # (V,) int64
    video_methods: tuple[str, ...]  # (V,) how each video was made ('real' for reals, 'photo' for still photos)
    video_keys: tuple[str, ...]  # (V,) "manifest_dir::path" for reports
    masks: np.ndarray | None = None  # (N, S, S) uint8 face hulls (255 inside) where the crops carry them

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def photo_videos(self) -> np.ndarray:
        """(V,) bool: the item is a still-photo group (generator.photoreals), not a video."""
        return np.asarray(self.video_methods) == PHOTO_METHOD

    def balanced_weights(self) -> np.ndarray:
        """Sampling weights: each class gets half the mass, each video an equal share of its class.

        Photo items (generator.photoreals) get none: they are only ever drawn as sources of online
        self-blends, next to their own blend, so a photo's look cannot stand in for "real"."""
        w = np.zeros(len(self), dtype=np.float64)
        for cls in (0, 1):
            vids = np.flatnonzero((self.video_labels == cls) & ~self.photo_videos)
            for v in vids:
                sel = self.video == v
                w[sel] = 1.0 / (len(vids) * sel.sum())
        return w / w.sum()


@dataclass(frozen=True)
class CropData:
    splits: dict[str, CropSplit]
    manifests: tuple[tuple[str, str], ...]  # (dir, sha256 of manifest.csv)
    manifest_hash: str  # sha256 over the manifest hashes: names the training data in config.json
    crop_size: int | None  # side of the stored aligned crops (before resizing to the model input)


def _empty_split(size: int) -> CropSplit:
    z = np.zeros(0, np.int64)
    return CropSplit(np.zeros((0, size, size, 3), np.uint8), z, z, z, z, (), (), np.zeros((0, size, size), np.uint8))


def _even_subsample(n: int, k: int) -> np.ndarray:
    return np.arange(n) if n <= k else np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def _resize_masks(masks: np.ndarray, size: int) -> np.ndarray:
    m = np.asarray(masks)
    if m.dtype != np.uint8:
        m = (np.clip(m, 0, 1) * 255).astype(np.uint8)
    if m.shape[1:3] == (size, size):
        return m
    return np.stack([cv2.resize(x, (size, size), interpolation=cv2.INTER_LINEAR) for x in m])


def load_crops(
    testset_dirs: list[Path], size: int, max_frames_per_video: int = 32, exclude_methods: tuple[str, ...] = (),
    fusion_holdout: bool = False,
) -> CropData:
    """Read every row's crops; fakes made by ``exclude_methods`` are dropped from train and val
    (kept in test) so a held-out-method experiment tests on a method the model never saw.
    ``fusion_holdout`` drops the validation identities reserved for fitting the fusion
    (fakescope.core.splits), so the detector never selects itself on them."""
    from fakescope.core.splits import holdout_of_rows

    if not testset_dirs:
        raise ValueError("no test-set directories given; pass at least one directory holding manifest.csv")
    parts: dict[str, dict[str, list]] = {
        s: {"img": [], "msk": [], "lab": [], "vid": [], "frm": [], "vl": [], "vm": [], "vk": []} for s in SPLITS
    }
    manifests = []
    crop_sizes: set[int] = set()
    for d in map(Path, testset_dirs):
        if not d.is_dir():
            raise ValueError(f"{d} is not a directory; pass a directory made by 'fakescope testset build'")
        rows = read_manifest(d, require=("label", "split", "crops"))
        manifests.append((str(d), sha256_file(manifest_path(d))))
        held = holdout_of_rows(rows) if fusion_holdout else frozenset()
        for row in rows:
            split, label, method = row["split"], row["label"], row.get("method", "")
            if split not in SPLITS or label not in ("real", "fake") or not row["crops"]:
                continue
            if split == "val" and row.get("identity", "") in held:
                continue
            if label == "fake" and split != "test" and method in exclude_methods:
                continue
            with np.load(d / row["crops"], allow_pickle=False) as z:
                images, frames = z["images"], z["frames"] if "frames" in z else np.arange(len(z["images"]))
                masks = z["masks"] if "masks" in z else None
            keep = _even_subsample(len(images), max_frames_per_video)
            if keep.size == 0:
                continue
            p = parts[split]
            v = len(p["vl"])
            imgs = images[keep]
            crop_sizes.add(int(imgs.shape[1]))
            if imgs.shape[1:3] != (size, size):
                interp = cv2.INTER_AREA if imgs.shape[1] > size else cv2.INTER_LINEAR
                imgs = np.stack([cv2.resize(im, (size, size), interpolation=interp) for im in imgs])
            p["img"].append(imgs)
            p["msk"].append(None if masks is None else _resize_masks(masks[keep], size))
            p["lab"].append(np.full(keep.size, int(label == "fake"), np.int64))
            p["vid"].append(np.full(keep.size, v, np.int64))
            p["frm"].append(np.asarray(frames)[keep].astype(np.int64))
            p["vl"].append(int(label == "fake"))
            p["vm"].append(method if label == "fake" or method == PHOTO_METHOD else "real")
            p["vk"].append(f"{d}::{row.get('path', '')}")
    splits = {}
    for s, p in parts.items():
        if not p["img"]:
            splits[s] = _empty_split(size)
            continue
        splits[s] = CropSplit(
            np.concatenate(p["img"]),
            np.concatenate(p["lab"]),
            np.concatenate(p["vid"]),
            np.concatenate(p["frm"]),
            np.asarray(p["vl"], np.int64),
            tuple(p["vm"]),
            tuple(p["vk"]),
            None if any(m is None for m in p["msk"]) else np.concatenate(p["msk"]),
        )
    combined = hashlib.sha256(
        "\n".join(h for _, h in sorted(manifests, key=lambda m: m[1])).encode()
    ).hexdigest()
    crop_size = crop_sizes.pop() if len(crop_sizes) == 1 else None
    return CropData(splits, tuple(manifests), combined, crop_size)
