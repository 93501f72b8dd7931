"""Fit the pulse model (forensics/weights/pulse.json) from labelled videos.

Each video is decoded once through the face pipeline; the pulse analyzer's features of its
longest face track become one row. Rows from tracks that are ``insufficient`` are left out (the
analyzer never scores them). The model is standardise + logistic regression (a handful of
numbers, stored as JSON by forensics.jsonmodel) whose weights are sign-bounded (see ``SIGNS``),
and the AUC it reports is cross-validated with
folds that keep each source clip, and every swap made from it, on one side.

Fakes come from either:

- ``--swaps DIR``: generator swaps named ``<clip>__to__<identity>.mp4``; ``DIR/originals.txt``
  lists the real originals (one path a line, relative to that file or absolute);
- ``--pseudo``: "pulse-washed" copies of the real clips (``pulse_wash``), a stand-in that removes
  the face's own colour changes and adds per-frame flicker, as a frame-by-frame generator does.

    fakescope forensics train pulse [--real VIDEO_OR_DIR ...] [--swaps DIR] [--pseudo] [--cache pulse_features.json]
        [--out forensics/weights/pulse.json] [--C 0.3] [--seed 0]

e.g. ``fakescope forensics train pulse --swaps runs/pulse_swaps --pseudo --cache pulse_features.json``.
That command calls :func:`fit_pulse_model`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.core.atomicio import write_text_atomic
from fakescope.core.faces import FacePipeline
from fakescope.core.hashing import sha256_bytes, sha256_file
from fakescope.core.types import Evidence, FaceObservation
from fakescope.core.video import expand_video_inputs, probe
from forensics.fitting import fit_balanced_logistic, load_feature_cache
from forensics.jsonmodel import JsonClassifier
from forensics.pulse import FEATURE_NAMES, FEATURES_VERSION, WEIGHTS, PulseAnalyzer, region_polygons

Transform = Callable[[np.ndarray, list[FaceObservation]], np.ndarray]


@dataclass(frozen=True)
class Item:
    """One labelled video; ``group`` ties a swap to the clip it was made from (for the CV folds)."""

    path: Path
    label: int  # 1 = fake
    group: str
    kind: str  # real | swap | pseudo


class PulseWash:
    """Pseudo-fake: inside the face, remove the face's own colour changes faster than ~1.5 s and add
    per-frame colour flicker of ``sigma`` (relative), i.e. what a generator that redraws the face
    every frame without seeing the pulse leaves behind. Half of the flicker is common to the face,
    half a smooth 4x4 field (a generator's errors differ across the face). Neck and background are
    untouched."""

    def __init__(self, seed: int, tau_s: float = 1.5) -> None:
        self.rng = np.random.default_rng(seed)
        self.sigma = float(self.rng.uniform(0.002, 0.008))
        self.tau_s = tau_s
        self._slow: dict[int, np.ndarray] = {}
        self._last_t: dict[int, float] = {}

    def __call__(self, frame: np.ndarray, faces: list[FaceObservation]) -> np.ndarray:
        out = frame
        for f in faces:
            lm = np.asarray(f.landmarks, np.float64)
            pts = np.vstack([lm, region_polygons(lm)["forehead"]]).astype(np.float32)
            hull = cv2.convexHull(pts)
            x, y, w, h = cv2.boundingRect(hull)
            x0, y0 = max(x, 0), max(y, 0)
            x1, y1 = min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
            if x1 - x0 < 4 or y1 - y0 < 4:
                continue
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillConvexPoly(mask, np.round(hull[:, 0] - (x0, y0)).astype(np.int32), 255)
            k = max(3, (int(0.06 * max(w, h)) // 2) * 2 + 1)
            soft = cv2.GaussianBlur(mask, (k, k), 0).astype(np.float32)[..., None] / 255.0
            roi = out[y0:y1, x0:x1].astype(np.float32)
            mean = np.array(cv2.mean(out[y0:y1, x0:x1], mask=mask)[:3], np.float32)
            slow = self._slow.get(f.track_id)
            dt = f.timestamp - self._last_t.get(f.track_id, f.timestamp)
            a = 1.0 - math.exp(-max(dt, 0.0) / self.tau_s)
            slow = mean if slow is None else slow + a * (mean - slow)
            self._slow[f.track_id], self._last_t[f.track_id] = slow, f.timestamp
            common = mean * self.rng.normal(0.0, self.sigma, 3).astype(np.float32)
            field = self.rng.normal(0.0, self.sigma, (4, 4, 3)).astype(np.float32)
            field = cv2.resize(field, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC) * mean
            roi += soft * ((slow - mean) + common + field)
            if out is frame:
                out = frame.copy()
            out[y0:y1, x0:x1] = np.clip(np.round(roi), 0, 255).astype(np.uint8)
        return out


def analyse_video(path: Path, transform: Transform | None = None) -> tuple[Evidence | None, dict[str, float]]:
    """Pulse evidence of the longest face track (rule-scored; None without a face) and the cost of
    the analyzer's update() in ms per frame."""
    info = probe(path)
    an = PulseAnalyzer(use_model=False)
    an.start(info)
    spent, n = 0.0, 0
    counts: dict[int, int] = {}
    for index, ts, frame, faces in FacePipeline().run(path, info):
        if transform is not None and faces:
            frame = transform(frame, faces)
        t0 = time.perf_counter()
        an.update(index, ts, frame, faces, None)
        spent += time.perf_counter() - t0
        n += 1
        for f in faces:
            counts[f.track_id] = counts.get(f.track_id, 0) + 1
    evidence = an.finish()
    timing = {"update_ms_per_frame": 1e3 * spent / max(n, 1), "frames": n,
              "pixels": info.width * info.height}
    if not counts:
        return None, timing
    return evidence[max(counts, key=counts.__getitem__)], timing


def row_for(item: Item, cache: dict[str, Any]) -> dict[str, Any]:
    """Features of one item, from ``cache`` (keyed by content hash and kind) when present."""
    key = f"{sha256_file(item.path)}:{item.kind}:v{FEATURES_VERSION}"
    if key not in cache:
        transform = PulseWash(int(key[:8], 16)) if item.kind == "pseudo" else None
        ev, timing = analyse_video(item.path, transform)
        cache[key] = {
            "status": ev.status if ev else "insufficient",
            "features": ev.details.get("features") if ev and ev.status == "ok" else None,
            "bpm": ev.details.get("bpm") if ev else None,
            "detected": bool(ev.details.get("detected")) if ev else False,
            "stable_seconds": ev.details.get("stable_seconds", 0.0) if ev else 0.0,
            "rule_score": float(ev.score) if ev else 0.5,
            **timing,
        }
    return {"path": str(item.path), "label": item.label, "group": item.group, "kind": item.kind, **cache[key]}


def swap_items(swaps_dir: Path) -> tuple[list[Item], list[Item]]:
    """Reals listed in originals.txt and the swaps ``<clip>__to__<identity>.mp4`` made from them."""
    listing = swaps_dir / "originals.txt"
    if not listing.is_file():
        raise ValueError(f"{listing} not found: a swaps folder lists its real originals there, one path a line")
    reals = []
    for line in listing.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line) if Path(line).is_absolute() else (swaps_dir / line)
            reals.append(Item(p, 0, p.stem, "real"))
    stems = {r.group for r in reals}
    fakes = []
    for p in sorted(swaps_dir.glob("*__to__*.mp4")):
        clip = p.stem.split("__to__")[0]
        if clip not in stems:
            raise ValueError(f"{p.name}: its source clip {clip!r} is not listed in {listing}")
        fakes.append(Item(p, 1, clip, "swap"))
    if not fakes:
        raise ValueError(f"{swaps_dir} holds no <clip>__to__<identity>.mp4 swaps")
    return reals, fakes


def auc(y: Sequence[int], s: Sequence[float]) -> float:
    """ROC AUC with ties counted half (Mann-Whitney)."""
    y, s = np.asarray(y), np.asarray(s, np.float64)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(gt / (len(pos) * len(neg)))


def feature_matrix(rows: Iterable[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """X (NaN kept), y, groups of the rows that have features."""
    used = [r for r in rows if r["status"] == "ok" and r["features"]]
    x = np.array([[np.nan if r["features"].get(k) is None else r["features"][k] for k in FEATURE_NAMES]
                  for r in used], np.float64)
    return x, np.array([r["label"] for r in used]), np.array([r["group"] for r in used]), used


def _impute(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), x, mean)


# Direction each feature may push P(fake): evidence of a pulse (its strength, its agreement across
# regions and with the neck) may only lower it, disagreement and flicker only raise it. A feature
# whose fitted weight would have the other sign gets weight 0. Why: the model must stay a pulse
# detector. With a few dozen training videos a free fit also learns whatever separates one kind of
# fake (e.g. a generator whose colour flicker is the same all over the face, which makes the
# regions agree more, not less), and that would invert the physiological evidence on other fakes.
SIGNS = {"snr_db": -1, "region_snr_db": -1, "freq_spread_bpm": 1, "phase_coherence": -1, "inner_corr": -1,
         "surround_corr": -1, "flicker": 1}


class SignedLogistic:
    """Standardise + L2 logistic regression with per-feature sign bounds (L-BFGS-B), class-balanced.

    Mimics the fitted scikit-learn pipeline's attributes that JsonClassifier.from_sklearn reads
    (``pipe[0].mean_``/``scale_``, ``pipe[-1].coef_``/``intercept_``) and ``predict_proba``.
    """

    def __init__(self, c: float = 0.3, signs: dict[str, int] | None = None) -> None:
        self.c = c
        self.signs = np.array([(signs or SIGNS)[k] for k in FEATURE_NAMES], np.float64)

    def fit(self, x: np.ndarray, y: np.ndarray) -> SignedLogistic:
        from scipy.optimize import minimize
        from sklearn.preprocessing import StandardScaler

        mean = np.nanmean(x, axis=0)
        self.scaler = StandardScaler().fit(_impute(x, np.where(np.isfinite(mean), mean, 0.0)))
        z = self.scaler.transform(_impute(x, self.scaler.mean_))
        w_cls = np.where(y == 1, len(y) / (2.0 * max((y == 1).sum(), 1)), len(y) / (2.0 * max((y == 0).sum(), 1)))
        d = z.shape[1]

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:d], theta[d]
            m = z @ w + b
            p = 1.0 / (1.0 + np.exp(-np.clip(m, -50, 50)))
            ll = w_cls * (np.logaddexp(0.0, m) - y * m)
            g = w_cls * (p - y)
            return float(ll.sum() + 0.5 / self.c * w @ w), np.r_[z.T @ g + w / self.c, g.sum()]

        bounds = [(0.0, None) if s > 0 else (None, 0.0) for s in self.signs] + [(None, None)]
        res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds)
        self.coef_ = res.x[:d][None, :]
        self.intercept_ = res.x[d:]
        return self

    def __getitem__(self, k: int) -> Any:
        return self.scaler if k == 0 else self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = self.scaler.transform(_impute(x, self.scaler.mean_))
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ self.coef_[0] + self.intercept_[0], -50, 50)))
        return np.stack([1 - p, p], axis=1)


def fit(x: np.ndarray, y: np.ndarray, c: float = 0.3, signed: bool = True) -> Any:
    """The sign-bounded model (``signed``) or a free scikit-learn logistic regression, for comparison."""
    if signed:
        return SignedLogistic(c).fit(x, y)
    mean = np.nanmean(x, axis=0)
    return fit_balanced_logistic(_impute(x, np.where(np.isfinite(mean), mean, 0.0)), y, c)


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5, c: float = 0.3,
                   seed: int = 0, signed: bool = True) -> tuple[np.ndarray, int]:
    """Out-of-fold P(fake) per row with folds disjoint in ``groups`` (a clip and all its swaps)."""
    from sklearn.model_selection import StratifiedGroupKFold

    k = int(min(folds, len(set(groups))))
    oof = np.full(len(y), np.nan)
    for tr, te in StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y, groups):
        if len(set(y[tr])) < 2:
            continue
        pipe = fit(x[tr], y[tr], c, signed)
        mean = pipe[0].mean_
        oof[te] = pipe.predict_proba(_impute(x[te], mean))[:, 1]
    return oof, k


def train(rows: list[dict[str, Any]], c: float = 0.3, seed: int = 0) -> tuple[JsonClassifier, dict[str, Any]]:
    """Fit the shipped model on every usable row and measure it with grouped cross-validation."""
    x, y, groups, used = feature_matrix(rows)
    if len(set(y.tolist())) < 2:
        raise ValueError(f"training the pulse model needs usable real and fake videos (both labels); {len(used)} of "
                         f"{len(rows)} videos had a usable pulse track (a face stable for at least 5 s): add longer clips")
    if len(set(groups.tolist())) < 2:
        raise ValueError("the pulse model's cross-validation keeps each source clip with its fakes, so it needs "
                         "usable videos of at least two source clips: add more real videos")
    oof, k = cross_validate(x, y, groups, c=c, seed=seed)
    free, _ = cross_validate(x, y, groups, c=c, seed=seed, signed=False)
    good = np.isfinite(oof)
    rule = np.array([r["rule_score"] for r in used])
    metrics = {
        "cv_auc": auc(y[good], oof[good]), "cv_folds": k, "rule_auc": auc(y, rule),
        "cv_auc_unconstrained": auc(y[np.isfinite(free)], free[np.isfinite(free)]),
        "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
        "n_insufficient": len(rows) - len(used), "groups": len(set(groups.tolist())),
    }
    pipe = fit(x, y, c)
    meta = {
        "trained_on": sorted({r["kind"] for r in used}), "C": c, "seed": seed, "metrics": metrics,
        "model": "standardise + class-balanced L2 logistic regression, weights sign-bounded (train_pulse.SIGNS)",
        "features_version": FEATURES_VERSION,
        "data_hash": sha256_bytes("\n".join(sorted(f"{r['path']}:{r['label']}" for r in used)).encode()),
        "videos": sorted(Path(r["path"]).name for r in used),
        "coef": dict(zip(FEATURE_NAMES, np.round(pipe[-1].coef_[0], 4).tolist(), strict=True)),
    }
    return JsonClassifier.from_sklearn(pipe, FEATURE_NAMES, meta), metrics


def load_cache(path: Path | None) -> dict[str, Any]:
    return load_feature_cache(path, "pulse")


def training_items(reals: Iterable[str | Path] = (), swaps: Path | None = None,
                   pseudo: bool = False) -> tuple[list[Item], list[Item]]:
    """(reals, fakes) to train on: ``swaps`` (its originals and their swaps; ``reals`` is then
    ignored) or the videos in ``reals``, plus a pulse-washed copy of every real with ``pseudo``.

    Raises ValueError when either side is empty and FileNotFoundError for a listed video that is
    missing, before any video is decoded."""
    if swaps is not None:
        real_items, fakes = swap_items(Path(swaps))
    else:
        real_items = [Item(p, 0, p.stem, "real") for p in expand_video_inputs(reals)]
        fakes = []
    if not real_items:
        raise ValueError("no real videos to train on: give --real VIDEO_OR_DIR ... (with --pseudo), or --swaps DIR "
                         "whose originals.txt lists them")
    if pseudo:
        fakes += [Item(r.path, 1, r.group, "pseudo") for r in real_items]
    if not fakes:
        raise ValueError("no fake videos to train on: add --pseudo (pulse-washed copies of the reals), or give "
                         "--swaps DIR of <clip>__to__<identity>.mp4 swaps")
    for it in real_items + fakes:
        if not it.path.is_file():
            raise FileNotFoundError(f"{it.path}: no such video")
    return real_items, fakes


def fit_pulse_model(reals: Iterable[str | Path] = (), swaps: Path | None = None, pseudo: bool = False,
                    cache: Path | None = None, out: Path = WEIGHTS, c: float = 0.3, seed: int = 0,
                    on_video: Callable[[Item, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Extract the pulse features of every training video (:func:`training_items`), fit the model
    (:func:`train`) and save it to ``out``; returns the cross-validated metrics (``cv_auc``,
    ``cv_folds``, ``cv_auc_unconstrained``, ``rule_auc``, ``n_real``, ``n_fake``, ``n_insufficient``).

    ``cache`` (JSON, per-video features keyed by content hash) is read first and rewritten after
    each video, so an interrupted run resumes. ``on_video(item, row)`` is called after each video.
    ``out`` is written only once training succeeded (atomically), so a failure leaves it as it was.
    """
    real_items, fakes = training_items(reals, swaps, pseudo)
    features = load_cache(None if cache is None else Path(cache))
    rows = []
    for it in real_items + fakes:
        rows.append(row_for(it, features))
        if cache is not None:
            write_text_atomic(cache, json.dumps(features, indent=1))
        if on_video is not None:
            on_video(it, rows[-1])
    model, metrics = train(rows, c, seed)
    model.save(Path(out))
    return metrics
