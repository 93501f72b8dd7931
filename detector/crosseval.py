"""Detector evaluation on labelled face photos and crops (``fakescope detector eval``).

Why: our own test split rewards learning our generator's look; what users judge the detector by is
fakes made by other people's tools. Cross-dataset sets such as ``crossdataset/dfdc_faces`` are
manifests of face crops (``path,label``, paths relative to the CSV). Each image is padded by
reflection (tight crops leave dlib no forehead or chin to find), landmarked and aligned exactly as
the scan aligns faces, then scored by the detector. Aligned crops are cached per manifest and
crop size, so comparing several detectors landmarks each image once. These sets are for
measuring only: nothing here trains, calibrates or picks a threshold.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.core.atomicio import write_bytes_atomic
from fakescope.core.faces import align_face, landmarks_padded
from fakescope.core.manifest import manifest_path, read_manifest

PAD = 0.5  # reflection padding on each side, as a fraction of the image side
MARGIN = 0.3  # the scan's alignment margin (detector.analyzer)
GROUP_COLUMNS = ("source", "tool", "method")  # the first present one gives the per-source table
ALIGNMENT_VERSION = 1  # bump when the preparation changes, so old caches are not reused


@dataclass(frozen=True)
class AlignedPhotos:
    """Aligned crops of a manifest's images; ``found[i]`` is False where no face was found."""

    crops: np.ndarray  # (N, S, S, 3) uint8 BGR; zeros where not found
    masks: np.ndarray  # (N, S, S) uint8 face hulls
    found: np.ndarray  # (N,) bool
    labels: np.ndarray  # (N,) 0 real / 1 fake
    groups: tuple[str, ...]  # per-source key of each image ("" when the manifest has none)
    manifest: Path
    manifest_sha256: str


def _prepare(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    found = landmarks_padded(image, PAD)
    if found is None:
        return None
    a = align_face(found[0], found[1], size=size, margin=MARGIN)
    return a.image, (a.mask * 255).astype(np.uint8)


def align_manifest(manifest: str | Path, crop_size: int, cache_dir: Path | None = None,
                   progress: bool = True) -> AlignedPhotos:
    """Landmark and align every image of a ``path,label`` manifest (cached in ``cache_dir``)."""
    from tqdm import tqdm

    csv_path = manifest_path(manifest)
    rows = read_manifest(csv_path)
    if not rows:
        raise ValueError(f"{csv_path} has no rows")
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    column = next((c for c in GROUP_COLUMNS if c in rows[0]), None)
    labels = []
    for i, r in enumerate(rows, start=2):
        if r["label"] not in ("real", "fake"):
            raise ValueError(f"{csv_path}: line {i}: label must be real or fake, got {r['label']!r}")
        labels.append(1 if r["label"] == "fake" else 0)
    groups = tuple(r.get(column, "") if column else "" for r in rows)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"{digest[:16]}-{crop_size}px-v{ALIGNMENT_VERSION}.npz"
        if cache.is_file():
            with np.load(cache, allow_pickle=False) as z:
                return AlignedPhotos(z["crops"], z["masks"], z["found"], np.asarray(labels), groups, csv_path, digest)
    base = csv_path.resolve().parent
    crops = np.zeros((len(rows), crop_size, crop_size, 3), np.uint8)
    masks = np.zeros((len(rows), crop_size, crop_size), np.uint8)
    found = np.zeros(len(rows), bool)
    for i, r in enumerate(tqdm(rows, desc=f"aligning {csv_path.parent.name}", unit="image", disable=not progress)):
        path = (base / r["path"]).resolve()
        image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
        if image is None:
            raise ValueError(f"{csv_path}: {r['path']} is missing or not an image")
        prepared = _prepare(image, crop_size)
        if prepared is not None:
            crops[i], masks[i] = prepared
            found[i] = True
    if cache is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, crops=crops, masks=masks, found=found)
        write_bytes_atomic(cache, buf.getvalue())
    return AlignedPhotos(crops, masks, found, np.asarray(labels), groups, csv_path, digest)


@dataclass(frozen=True)
class PhotoEval:
    """One detector on one manifest: frame AUC with its bootstrap interval, calibration, per source."""

    detector: str
    manifest: str
    images: int
    with_face: int
    auc: float | None
    auc_low: float | None
    auc_high: float | None
    ece: float | None
    brier: float | None
    mean_p_real: float | None
    mean_p_fake: float | None
    per_source: dict[str, dict[str, Any]] = field(default_factory=dict)
    # With familiarity statistics (detector.familiarity): the figures above use the shrunk logits, as
    # the scan does; these are the raw model's, and the share of crops beyond the familiarity edge.
    auc_raw: float | None = None
    ece_raw: float | None = None
    beyond_edge: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _finite(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def evaluate_photos(model: Any, photos: AlignedPhotos, n_boot: int = 1000, seed: int = 0) -> PhotoEval:
    """Score the aligned faces with a loaded detector (``detector.io.LoadedDetector``)."""
    from fakescope.core import metrics as M

    keep = np.flatnonzero(photos.found)
    y = photos.labels[keep]
    masks = photos.masks[keep] if model.needs_mask else None
    raw, dist = model.predict_logits_and_distance(photos.crops[keep], masks=masks) if len(keep) else (
        np.zeros(0), np.zeros(0))
    fam = model.familiarity
    p_raw = model.calibrator.predict_proba(raw) if len(keep) else np.zeros(0)
    p = model.calibrator.predict_proba(raw * fam.shrink(dist)) if fam is not None and len(keep) else p_raw
    both = len(set(y.tolist())) == 2
    auc = ci = None
    if both:
        auc = M.roc_auc(y, p)
        ci = M.bootstrap_ci(M.roc_auc, y, p, n_boot=n_boot, seed=seed)
    per: dict[str, dict[str, Any]] = {}
    groups = np.asarray(photos.groups, dtype=object)[keep]
    for g in sorted(set(groups.tolist()) - {""}):
        sel = groups == g
        yg, pg = y[sel], p[sel]
        per[g] = {"images": int(sel.sum()), "fake": int(yg.sum()),
                  "auc": _finite(M.roc_auc(yg, pg)) if len(set(yg.tolist())) == 2 else None,
                  "mean_p": float(pg.mean())}
    return PhotoEval(
        detector=model.name, manifest=str(photos.manifest), images=len(photos.found), with_face=int(len(keep)),
        auc=_finite(auc) if auc is not None else None,
        auc_low=_finite(ci.low) if ci else None, auc_high=_finite(ci.high) if ci else None,
        ece=_finite(M.expected_calibration_error(y, p)) if both else None,
        brier=_finite(M.brier(y, p)) if len(y) else None,
        mean_p_real=float(p[y == 0].mean()) if (y == 0).any() else None,
        mean_p_fake=float(p[y == 1].mean()) if (y == 1).any() else None,
        per_source=per,
        auc_raw=_finite(M.roc_auc(y, p_raw)) if both and fam is not None else None,
        ece_raw=_finite(M.expected_calibration_error(y, p_raw)) if both and fam is not None else None,
        beyond_edge=float(np.mean(dist > fam.edge)) if fam is not None and len(keep) else None,
    )


def evaluate_manifests(detectors: Sequence[str], manifests: Sequence[str | Path], cache_dir: Path | None = None,
                       n_boot: int = 1000, progress: bool = True, device: str = "cpu") -> list[PhotoEval]:
    """Every detector on every manifest; each manifest is aligned once per crop size."""
    from detector.io import load_model

    models = [load_model(d, device=device) for d in detectors]  # every model is checked before any image is read
    aligned: dict[tuple[str, int], AlignedPhotos] = {}
    out = []
    for m in manifests:
        for model in models:
            key = (str(m), model.crop_size)
            if key not in aligned:
                aligned[key] = align_manifest(m, model.crop_size, cache_dir, progress)
            out.append(evaluate_photos(model, aligned[key], n_boot=n_boot))
    return out
