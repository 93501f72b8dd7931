"""Train the edge/blending model on self-blends vs their real originals; write forensics/weights/edges.json.

Why self-blends: they carry the boundary artifacts of a face swap without depending on any one
generator (see generator.selfblend). Training uses random JPEG qualities so that compression
alone is not mistaken for blending; the split is by identity so the held-out AUC measures faces
the model has never seen.

    fakescope forensics train edges [--data ../shared/data] [--cache real_faces.npz] [--testset TESTSET_DIR]
        [--out forensics/weights/edges.json] [--seed 0]

That command calls :func:`fit_edges_model`. The shipped weights were trained with ``--testset`` of
the test set we audit on, so none of its validation or test identities (nor photos of their
collections) is in the training data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.core.faces import align_face
from forensics.edges import CROP_SIZE, FEATURE_NAMES, WEIGHTS, edge_features
from forensics.facedata import FaceSample, heldout_sources, load_or_collect, split_description, split_samples
from forensics.jsonmodel import JsonClassifier
from generator.selfblend import self_blend

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def jpeg(image: np.ndarray, quality: int | None) -> np.ndarray:
    if quality is None:
        return image
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def pair_images(sample: FaceSample, rng: np.random.Generator, quality: int | None, size: int = CROP_SIZE,
                n_fakes: int = 1) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, np.ndarray]]]:
    """Aligned (image, hull mask) of the real face and of ``n_fakes`` self-blends of it, each
    blended at source resolution, then JPEG-compressed, then aligned (as a swap would be)."""
    real_face = align_face(jpeg(sample.region, quality), sample.landmarks, size)
    reals = [(real_face.image, real_face.mask)]
    fakes = []
    for _ in range(n_fakes):
        blended, _, _ = self_blend(sample.region, sample.landmarks, rng)
        f = align_face(jpeg(blended, quality), sample.landmarks, size)
        fakes.append((f.image, f.mask))
    return reals, fakes


def build_dataset(samples: Sequence[FaceSample], seed: int, quality: Callable[[np.random.Generator], int | None],
                  featurize: Callable[[np.ndarray, np.ndarray], np.ndarray] = edge_features,
                  n_fakes: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature matrix X, labels y (1 = self-blend), pair index (to keep a real and its fakes together)."""
    rng = np.random.default_rng(seed)
    xs, ys, pair = [], [], []
    for k, s in enumerate(samples):
        reals, fakes = pair_images(s, rng, quality(rng), n_fakes=n_fakes)
        for img, m in reals:
            xs.append(featurize(img, m))
            ys.append(0)
            pair.append(k)
        for img, m in fakes:
            xs.append(featurize(img, m))
            ys.append(1)
            pair.append(k)
    return np.asarray(xs, np.float64), np.asarray(ys, np.int64), np.asarray(pair)


def train_quality(rng: np.random.Generator) -> int | None:
    """Training compression: none 20% of the time, else JPEG quality 55-98."""
    return None if rng.random() < 0.2 else int(rng.integers(55, 99))


def fit_linear(x: np.ndarray, y: np.ndarray, names: Sequence[str], c: float = 1.0, meta: dict | None = None) -> JsonClassifier:
    """Standardise + logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    pipe.fit(x, y)
    return JsonClassifier.from_sklearn(pipe, tuple(names), meta)


def fit_mlp(x: np.ndarray, y: np.ndarray, names: Sequence[str], hidden: int = 64, alpha: float = 3.0, seed: int = 0,
            meta: dict | None = None) -> JsonClassifier:
    """Standardise + one hidden ReLU layer, strongly L2-regularised (a few hundred identities only).

    Why not logistic regression: the sector features interact (a colour step matters where the
    hull crosses skin, the forehead, not where it follows the jaw line against the background), and
    on held-out identities the MLP ranked better (figures: docs/experiments.md).
    """
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), MLPClassifier((hidden,), alpha=alpha, max_iter=1000, random_state=seed))
    pipe.fit(x, y)
    return JsonClassifier.from_sklearn(pipe, tuple(names), meta)


def auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def data_hash(samples: Sequence[FaceSample]) -> str:
    h = hashlib.sha256()
    for s in samples:
        h.update(s.source.encode())
        h.update(s.region.tobytes()[:4096])
    return h.hexdigest()[:16]


def train_edges(
    samples: Sequence[FaceSample], seed: int = 0, rounds: int = 2, holdout_sources: set[str] | None = None
) -> tuple[JsonClassifier, dict]:
    """Fit on the train identities only and report AUC at JPEG 75 on the held-out ones
    (``holdout_sources``: a test set's validation and test videos, see forensics.facedata.split_samples).

    The shipped model is this one (not a refit on everything) so that benchmarks/edges_accuracy.py
    can measure it on identities it has never seen.

    Each real face is used ``rounds`` times with fresh self-blends and compression draws.
    """
    train, test = split_samples(samples, holdout_sources)
    if not train or not test:
        raise ValueError("need faces of several identities to hold some out; add more real data")
    parts = [build_dataset(train, seed + 100 * r, train_quality) for r in range(rounds)]
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te, _ = build_dataset(test, seed + 1, lambda _r: 75)
    meta: dict = {"trained_on": "self-blends vs real faces (generator.selfblend), JPEG 55-98 or none",
            "model": "StandardScaler + MLP(64 ReLU, alpha=3)", "crop_size": CROP_SIZE, "seed": seed,
            "data_hash": data_hash(samples), "split": split_description(holdout_sources)}
    model = fit_mlp(x_tr, y_tr, FEATURE_NAMES, seed=seed, meta=meta)
    metrics = {
        "heldout_auc_jpeg75": auc(y_te, model.predict_proba(x_te)),
        "train_faces": len(train), "test_faces": len(test),
        "train_identities": len({s.identity for s in train}), "test_identities": len({s.identity for s in test}),
    }
    return replace(model, meta={**meta, "metrics": metrics}), metrics


def collect_training_faces(data: Path, cache: Path | None,
                           testsets: Sequence[Path] | None) -> tuple[list[FaceSample], set[str] | None]:
    """Real faces to train on (from ``cache`` when it exists, else collected from ``data`` and cached
    there) and the sources to hold out (see forensics.facedata.heldout_sources).

    Raises ValueError, before any training, when there is nothing to train on."""
    holdout = heldout_sources(testsets)  # a bad --testset fails before the slow face collection
    data = Path(data)
    if (cache is None or not Path(cache).exists()) and not data.is_dir():
        raise ValueError(f"{data}: no such folder; pass --data DIR holding real videos and face photos "
                         "(or --cache NPZ of faces collected before)")
    samples = load_or_collect(data, None if cache is None else Path(cache))
    if not samples:
        raise ValueError(f"{data}: no usable face found (videos or photos with a face at least 60 px wide); "
                         "pass --data DIR holding real videos and face photos")
    return samples, holdout


def fit_edges_model(data: Path = DEFAULT_DATA, cache: Path | None = None, out: Path = WEIGHTS, seed: int = 0,
                    testsets: Sequence[Path] | None = None) -> dict[str, Any]:
    """Collect real faces, train the edge model (:func:`train_edges`) and save it to ``out``.

    Returns the held-out metrics (``heldout_auc_jpeg75``, ``test_faces``, ``test_identities``, ...).
    ``out`` is written only once training succeeded (atomically), so a failure leaves it as it was.
    """
    samples, holdout = collect_training_faces(data, cache, testsets)
    model, metrics = train_edges(samples, seed, holdout_sources=holdout)
    model.save(Path(out))
    return metrics
