"""Blending-boundary features of an aligned face, the small model on them, and the analyzer.

Why: a swapped or re-enacted face is pasted into the target frame through a soft mask. Across
that boundary the two images rarely agree: the pasted face is smoother or sharper than the
neck and background, its colour is slightly off, and its sensor noise differs (generators make
noise-free faces; compression treats both sides differently). We compare a thin band around the
landmark-hull boundary with the regions just inside and just outside it, globally and in angular
sectors, so a model can tell a consistent boundary from a pasted one and a heatmap can show where.

Every feature is a log-ratio or a difference normalised by the whole crop's spread, so a global
brightness or contrast change of the image leaves it nearly unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from forensics.jsonmodel import JsonClassifier
from forensics.sampled import SampledCropAnalyzer

N_SECTORS = 8
CROP_SIZE = 128
EPS = 1e-6
WEIGHTS = Path(__file__).resolve().parent / "weights" / "edges.json"

GLOBAL_FEATURES = (
    "grad_band_in",  # log gradient energy: boundary band / inner face
    "grad_band_out",  # boundary band / outer ring
    "lap_band_in",  # same with Laplacian energy (sharpness)
    "lap_band_out",
    "grad_in_out",  # inner face / outer ring: overall sharpness mismatch
    "lap_in_out",
    "noise_in_out",  # log noise-residual variance: just inside / just outside the boundary
    "noise_face_ring",  # inner face / outer ring
    "dL",  # LAB mean difference just inside - just outside, / crop std
    "da",
    "db",
    "sL",  # log std ratio inside / outside the boundary
    "sa",
    "sb",
    "edge_step",  # mean |gradient| across the boundary direction in the band / inner face
    "abs_dL",  # magnitudes of the above: a blend can shift colour either way
    "abs_da",
    "abs_db",
    "abs_sL",
)
# per angular sector: LAB step across the boundary measured 0-3 px and 3-7 px either side (a real
# edge is a sharp step, a feathered blend a ramp), Laplacian and noise log-ratios inside/outside,
# gradient energy on the boundary vs 7-14 px away
SECTOR_FEATURES = ("dL1", "da1", "db1", "dL2", "da2", "db2", "lap", "noise", "grad")
FEATURE_NAMES = GLOBAL_FEATURES + tuple(f"s{k}_{n}" for k in range(N_SECTORS) for n in SECTOR_FEATURES)


# ring codes of the label image (label = ring * N_SECTORS + sector). Rings are distance bands from
# the hull boundary, in pixels of a 128 px crop (scaled with the crop): just inside / just outside
# (0-3 px), a little further (3-7 px), and the reference regions beyond (7-14 px), then the rest.
IN1, IN2, IN3, INNER, OUT1, OUT2, OUT3, OTHER = range(8)
N_RINGS = 8
N_LABELS = N_RINGS * N_SECTORS
_RING_EDGES = (3.0, 7.0, 14.0)


@dataclass(frozen=True)
class Regions:
    """Where each pixel lies relative to the hull boundary, as one int32 label image.

    One label image lets every statistic be gathered with a single bincount per map, which keeps
    the per-face cost low. ``inner`` = deeper than 14 px inside, ``band`` = 0-3 px either side.
    """

    labels: np.ndarray
    centre: tuple[float, float]  # (cy, cx)

    def ring(self, *codes: int) -> np.ndarray:
        return np.isin(self.labels // N_SECTORS, codes)


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    return yy.astype(np.float32), xx.astype(np.float32)


def regions(mask: np.ndarray) -> Regions:
    """Distance rings inside and outside the hull boundary, and angular sectors around the mask
    centroid (sector 0 starts at the face's right-hand side in image terms and turns clockwise
    on screen, so in an aligned crop each sector is a fixed part of the face: chin, cheeks,
    forehead/eyebrow line)."""
    m = (np.asarray(mask) > 0.5).astype(np.uint8)
    if m.sum() < 64:
        raise ValueError("the face mask is (nearly) empty; pass the landmark hull of the aligned face (AlignedFace.mask)")
    unit = m.shape[0] / 128.0
    d_in = cv2.distanceTransform(m, cv2.DIST_L2, 3)
    d_out = cv2.distanceTransform(1 - m, cv2.DIST_L2, 3)
    e1, e2, e3 = (e * unit for e in _RING_EDGES)
    ring = np.full(m.shape, OTHER, np.int32)
    ring[(d_out > 0) & (d_out <= e3)] = OUT3
    ring[(d_out > 0) & (d_out <= e2)] = OUT2
    ring[(d_out > 0) & (d_out <= e1)] = OUT1
    inside = m > 0
    ring[inside] = INNER
    ring[inside & (d_in <= e3)] = IN3
    ring[inside & (d_in <= e2)] = IN2
    ring[inside & (d_in <= e1)] = IN1
    if not np.any(ring == INNER):
        raise ValueError("the face mask is too thin for an inner region; use a larger crop")
    mom = cv2.moments(m, binaryImage=True)
    cy, cx = mom["m01"] / mom["m00"], mom["m10"] / mom["m00"]
    yy, xx = _grid(*m.shape)
    ang = cv2.phase(xx - np.float32(cx), yy - np.float32(cy))  # [0, 2pi)
    sec = np.minimum((ang * (N_SECTORS / (2 * math.pi))).astype(np.int32), N_SECTORS - 1)
    return Regions(ring * N_SECTORS + sec, (float(cy), float(cx)))


def _maps(image_bgr: np.ndarray) -> dict[str, np.ndarray]:
    img = np.asarray(image_bgr)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an aligned BGR uint8 face crop, got {img.dtype} {img.shape}")
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    g = gray.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=3)
    noise = g - cv2.medianBlur(gray, 3).astype(np.float32)
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB).astype(np.float32)
    return {"gx": gx, "gy": gy, "lap": lap, "noise": noise, "lab": lab}


def _lr(a: np.ndarray | float, b: np.ndarray | float, floor: float) -> np.ndarray:
    """log ratio with a floor, so flat regions do not explode."""
    return np.log((np.asarray(a, np.float64) + floor) / (np.asarray(b, np.float64) + floor))


def _features_from(maps: dict[str, np.ndarray], reg: Regions) -> tuple[np.ndarray, np.ndarray]:
    gx, gy, lab = maps["gx"], maps["gy"], maps["lab"]
    cy, cx = reg.centre
    yy, xx = _grid(*gx.shape)
    ry, rx = yy - np.float32(cy), xx - np.float32(cx)
    radial = (gx * rx + gy * ry) / (np.sqrt(rx * rx + ry * ry) + 1e-3)
    lab_flat = lab.reshape(-1, 3)
    planes = [gx * gx + gy * gy, maps["lap"] ** 2, maps["noise"] ** 2, radial * radial,
              lab_flat[:, 0], lab_flat[:, 1], lab_flat[:, 2], lab_flat[:, 0] ** 2, lab_flat[:, 1] ** 2, lab_flat[:, 2] ** 2]
    lbl = reg.labels.ravel()
    count = np.bincount(lbl, minlength=N_LABELS).reshape(N_RINGS, N_SECTORS).astype(np.float64)
    sums = np.stack([np.bincount(lbl, weights=p.ravel(), minlength=N_LABELS) for p in planes]).reshape(len(planes), N_RINGS, N_SECTORS)
    # floors proportional to the crop's own energy keep the ratios scale-free
    gfl, lfl, nfl = (float(p.mean()) * 0.01 + EPS for p in planes[:3])

    def mean(plane: int | slice, rings: tuple[int, ...], per_sector: bool = False) -> np.ndarray:
        s_ = sums[plane][..., list(rings), :].sum(axis=-2)
        n = count[list(rings)].sum(axis=0)
        if not per_sector:
            return s_.sum(axis=-1) / max(n.sum(), 1.0)
        return s_ / np.maximum(n, 1.0)

    band, near_in, near_out, ref = (IN1, OUT1), (IN1, IN2), (OUT1, OUT2), (IN3, OUT3)
    g_in, g_band, g_out = mean(0, (INNER,)), mean(0, band), mean(0, (OUT2, OUT3))
    l_in, l_band, l_out = mean(1, (INNER,)), mean(1, band), mean(1, (OUT2, OUT3))
    lab_all = (IN1, IN2, IN3, INNER, OUT1, OUT2, OUT3)
    mu_all = mean(slice(4, 7), lab_all)
    spread = np.sqrt(np.maximum(mean(slice(7, 10), lab_all) - mu_all**2, 0.0)) + 1.0
    mu_i, mu_o = mean(slice(4, 7), near_in), mean(slice(4, 7), near_out)
    sd_i = np.sqrt(np.maximum(mean(slice(7, 10), near_in) - mu_i**2, 0.0))
    sd_o = np.sqrt(np.maximum(mean(slice(7, 10), near_out) - mu_o**2, 0.0))
    d = (mu_i - mu_o) / spread
    sr = np.log((sd_i + 1.0) / (sd_o + 1.0))
    glob = np.array([
        _lr(g_band, g_in, gfl), _lr(g_band, g_out, gfl), _lr(l_band, l_in, lfl), _lr(l_band, l_out, lfl),
        _lr(g_in, g_out, gfl), _lr(l_in, l_out, lfl),
        _lr(mean(2, near_in), mean(2, near_out), nfl), _lr(mean(2, (INNER,)), mean(2, (OUT2, OUT3)), nfl),
        d[0], d[1], d[2], sr[0], sr[1], sr[2], _lr(mean(3, band), g_in, gfl),
        abs(d[0]), abs(d[1]), abs(d[2]), abs(sr[0]),
    ], np.float32)

    sp = spread[:, None]
    ok = (count[IN1] >= 3) & (count[OUT1] >= 3) & (count[IN2] >= 3) & (count[OUT2] >= 3)
    narrow = (mean(slice(4, 7), (IN1,), True) - mean(slice(4, 7), (OUT1,), True)) / sp
    wide = (mean(slice(4, 7), (IN2,), True) - mean(slice(4, 7), (OUT2,), True)) / sp
    # magnitudes: a blend may shift colour or sharpness either way, a linear model needs |.|
    sectors = np.stack([
        np.abs(narrow[0]), np.abs(narrow[1]), np.abs(narrow[2]), np.abs(wide[0]), np.abs(wide[1]), np.abs(wide[2]),
        np.abs(_lr(mean(1, near_in, True), mean(1, near_out, True), lfl)),
        np.abs(_lr(mean(2, near_in, True), mean(2, near_out, True), nfl)),
        _lr(mean(0, band, True), mean(0, ref, True), gfl),
    ], axis=1)
    sectors = np.where(ok[:, None], np.nan_to_num(sectors), 0.0).astype(np.float32)
    return np.concatenate([glob, sectors.ravel()]), sectors


def edge_features(image_bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Feature vector (FEATURE_NAMES order) of an aligned face crop and its hull mask."""
    feats, _ = _features_from(_maps(image_bgr), regions(mask))
    return feats


def sector_features(image_bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N_SECTORS, len(SECTOR_FEATURES)) per-sector boundary features, to localise a mismatch."""
    _, sectors = _features_from(_maps(image_bgr), regions(mask))
    return sectors


def edge_heatmap(image_bgr: np.ndarray, mask: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """The crop with the boundary band coloured by how inconsistent each sector is (red = worst).

    Per sector the inconsistency is the sum of |z| of its features against the crop's own sector
    median, so the map points at the part of the boundary that differs from the rest of it.
    A heuristic for showing people where to look, not a calibrated score.
    """
    img = np.asarray(image_bgr)
    reg = regions(mask)
    _, sectors = _features_from(_maps(img), reg)
    med = np.median(sectors, axis=0)
    mad = np.median(np.abs(sectors - med), axis=0) + 1e-3
    badness = np.abs((sectors - med) / mad).sum(axis=1)
    badness = badness / (badness.max() + EPS)
    band = reg.ring(IN1, OUT1, IN2, OUT2)
    heat = np.where(band, badness[reg.labels % N_SECTORS], 0.0).astype(np.float32)
    heat = cv2.GaussianBlur(heat, (0, 0), max(1.0, img.shape[0] / 64))
    colour = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    a = (alpha * np.clip(cv2.GaussianBlur(band.astype(np.float32), (0, 0), 1.5) * 1.5, 0, 1))[..., None]
    return (img.astype(np.float32) * (1 - a) + colour.astype(np.float32) * a).astype(np.uint8)


@lru_cache(maxsize=4)
def load_edge_model(path: str | None = None) -> JsonClassifier:
    """The shipped (or given) edge model, loaded once per process."""
    model = JsonClassifier.load(Path(path) if path else WEIGHTS, "fakescope forensics train edges")
    if model.feature_names != FEATURE_NAMES:
        raise ValueError(f"{path or WEIGHTS} was trained on other features; retrain with `fakescope forensics train edges`")
    return model


class EdgeModel:
    """P(blended) of one aligned face from its boundary features."""

    def __init__(self, model: JsonClassifier | None = None) -> None:
        self.model = model or load_edge_model()

    def score(self, image_bgr: np.ndarray, mask: np.ndarray) -> float:
        return float(self.model.predict_proba(edge_features(image_bgr, mask))[0])


class EdgeAnalyzer(SampledCropAnalyzer):
    """Analyzer protocol: scores every ``every``-th frame's aligned crop per track (forensics.sampled)."""

    name = "edges"

    def __init__(self, every: int = 5, size: int = CROP_SIZE, min_frames: int = 3, model: EdgeModel | None = None) -> None:
        super().__init__(every, size, min_frames)
        self._model = model
        self._worst: dict[int, tuple[float, int, np.ndarray, np.ndarray]] = {}

    def _reset(self) -> None:
        self._worst = {}
        if self._model is None:
            self._model = EdgeModel()

    def _score(self, crop: Any) -> float | None:
        assert self._model is not None, "start() must be called before update()"
        try:
            return self._model.score(crop.image, crop.mask)
        except ValueError:
            return None  # degenerate mask (face mostly outside the frame): no opinion

    def _observe(self, track_id: int, frame_index: int, score: float, crop: Any) -> None:
        # One crop per track for the report; crops are fresh arrays per frame, so no copy is needed.
        if score > self._worst.get(track_id, (-1.0,))[0]:
            self._worst[track_id] = (score, frame_index, crop.image, crop.mask)

    def _details(self, pairs: list[tuple[int, float]]) -> dict[str, Any]:
        return {"mean_score": round(float(np.mean([s for _, s in pairs])), 4)}

    def key_frames(self) -> list[Any]:
        """The most inconsistent crop of each track with its boundary heatmap, for the report."""
        from fakescope.core.types import KeyFrame

        return [KeyFrame("edges", fi, s, img, edge_heatmap(img, mask),
                         "Edge heatmap: red sectors of the face boundary disagree most with the rest.", tid)
                for tid, (s, fi, img, mask) in sorted(self._worst.items())]


def make_analyzer(config: object = None) -> EdgeAnalyzer:
    if not WEIGHTS.exists():
        raise LookupError("edge model weights are not installed (forensics/weights/edges.json)")
    return EdgeAnalyzer()
