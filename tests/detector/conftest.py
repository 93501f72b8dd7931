"""Synthetic test sets in the issue-4 layout (manifest.csv + one crops .npz per video)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

COLUMNS = ["path", "label", "source", "identity", "method", "params", "seed", "split", "sha256", "crops"]


def synthetic_crop(rng: np.random.Generator, fake: bool, size: int) -> np.ndarray:
    """Smooth random 'face' crops; fakes carry a blocky, high-contrast patch in the centre (a learnable cue)."""
    base = rng.integers(60, 200, size=(size // 8, size // 8, 3)).astype(np.float32)
    img = np.kron(base, np.ones((8, 8, 1), np.float32))
    if fake:
        q = size // 4
        img[q : 3 * q, q : 3 * q] = np.kron(
            rng.integers(0, 2, (q // 2, q // 2, 1)) * 255.0, np.ones((4, 4, 3))
        )
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def build_testset(
    root: Path,
    videos_per_split: dict[str, int] | None = None,
    frames: int = 6,
    size: int = 40,
    seed: int = 0,
    methods: tuple[str, ...] = ("ae_swap", "self_blend"),
) -> Path:
    rng = np.random.default_rng(seed)
    (root / "crops").mkdir(parents=True, exist_ok=True)
    rows = []
    counts = videos_per_split or {"train": 4, "val": 2, "test": 2}
    for split, n in counts.items():
        for i in range(n):
            for label in ("real", "fake"):
                name = f"{split}_{label}_{i}"
                method = "" if label == "real" else methods[i % len(methods)]
                images = np.stack([synthetic_crop(rng, label == "fake", size) for _ in range(frames)])
                np.savez(
                    root / "crops" / f"{name}.npz",
                    images=images,
                    masks=np.zeros((frames, size, size), np.uint8),
                    frames=np.arange(frames) * 3,
                )
                rows.append(
                    {
                        "path": f"{name}.mp4",
                        "label": label,
                        "source": "synthetic",
                        "identity": f"{split}{i}",
                        "method": method,
                        "params": "{}",
                        "seed": str(seed),
                        "split": split,
                        "sha256": "",
                        "crops": f"crops/{name}.npz",
                    }
                )
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return root


@pytest.fixture
def tiny_testset(tmp_path: Path) -> Path:
    return build_testset(tmp_path / "testset")


@pytest.fixture(autouse=True)
def _one_thread():
    """The CI machine is shared and oversubscribed: multi-threaded OpenMP spin-waits make tiny
    models ~50x slower there, so detector tests run single-threaded (restored afterwards)."""
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def with_face_masks(root: Path) -> Path:
    """Give every crop a centred elliptical face hull, as real test sets store them."""
    for f in (root / "crops").glob("*.npz"):
        with np.load(f) as z:
            data = dict(z)
        n, s = data["images"].shape[:2]
        m = np.zeros((s, s), np.uint8)
        cv2.ellipse(m, (s // 2, s // 2), (s // 3, int(s * 0.4)), 0, 0, 360, 255, -1)
        data["masks"] = np.repeat(m[None], n, axis=0)
        np.savez(f, **data)
    return root
