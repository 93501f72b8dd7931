"""Fit the audio-visual sync model (forensics/weights/avsync.json) from real talking clips with speech.

Each real clip is decoded once through the face pipeline; its longest face track's mouth measures
and its speech envelope are kept in memory. Fakes are made in feature space, exactly as a remuxed
file would measure (the analyzer reads the same mouth track and only the audio differs):

- *swapped*: the clip's mouth against every other clip's speech envelope (a replaced audio track);
- *shifted*: the clip's mouth against its own envelope moved by each of ``SHIFTS_S`` (a track
  muxed late or early).

The model is standardise + class-balanced logistic regression (forensics.jsonmodel), and its AUCs
are cross-validated with folds that hold out whole clips: a held-out clip's mouth is never seen in
training, neither with its own audio nor with another's.

    fakescope forensics train avsync --real VIDEO_OR_DIR ... [--cache avsync_tracks.npz] [--out JSON]

Clips without an audio track, with too little speech or too little face are reported and left out.
benchmarks/avsync_accuracy.py measures the shipped model end to end on remuxed files.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core.atomicio import write_bytes_atomic
from fakescope.core.audio import AudioUnavailable, Envelope, speech_envelope
from fakescope.core.faces import FacePipeline
from fakescope.core.hashing import sha256_bytes, sha256_file
from fakescope.core.metrics import roc_auc
from fakescope.core.video import expand_video_inputs, probe
from forensics.avsync import FEATURES_VERSION, MODEL_FEATURES, WEIGHTS, AvSyncConfig, mouth_measures, sync
from forensics.fitting import fit_balanced_logistic
from forensics.jsonmodel import JsonClassifier

SHIFTS_S = (-0.6, -0.4, 0.4, 0.6)


@dataclass(frozen=True)
class Clip:
    """A real clip's longest face track (times, mouth measures) and its speech envelope."""

    path: Path
    times: np.ndarray
    mouth: np.ndarray
    env: Envelope


def clip_track(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps and mouth measures of the clip's longest face track."""
    info = probe(path)
    tracks: dict[int, tuple[list[float], list[np.ndarray]]] = {}
    for _, ts, _, faces in FacePipeline().run(path, info):
        for f in faces:
            m = mouth_measures(f.landmarks)
            if m is not None:
                t, ms = tracks.setdefault(f.track_id, ([], []))
                t.append(ts)
                ms.append(m)
    if not tracks:
        return np.zeros(0), np.zeros((0, 2))
    t, ms = max(tracks.values(), key=lambda v: len(v[0]))
    return np.asarray(t), np.stack(ms)


def load_clips(reals: Iterable[str | Path], cache: Path | None = None,
               on_clip: Callable[[Path, str], None] | None = None) -> list[Clip]:
    """Decode every clip (mouth tracks cached by content hash in ``cache``, an npz) and its audio."""
    stored: dict[str, np.ndarray] = {}
    if cache is not None and Path(cache).is_file():
        with np.load(cache, allow_pickle=False) as z:
            stored = {k: z[k] for k in z.files}
    clips: list[Clip] = []
    for path in expand_video_inputs(reals):
        try:
            env = speech_envelope(path)
        except AudioUnavailable as exc:
            if on_clip:
                on_clip(path, f"left out: {exc}")
            continue
        key = f"{sha256_file(path)}_v{FEATURES_VERSION}"
        if f"{key}_t" not in stored:
            t, m = clip_track(path)
            stored[f"{key}_t"], stored[f"{key}_m"] = t, m
            if cache is not None:
                buf = io.BytesIO()
                np.savez(buf, **stored)
                write_bytes_atomic(Path(cache), buf.getvalue())
        t, m = stored[f"{key}_t"], stored[f"{key}_m"]
        if len(t) < 2:
            if on_clip:
                on_clip(path, "left out: no face")
            continue
        clips.append(Clip(path, t, m, env))
        if on_clip:
            on_clip(path, f"{len(t)} frames with a face, {env.duration_s:.1f} s of audio")
    return clips


def _shifted(env: Envelope, s: float) -> Envelope:
    return Envelope(env.times + s, env.log_energy)


def feature_rows(clips: list[Clip], cfg: AvSyncConfig | None = None) -> list[dict[str, Any]]:
    """One row per (clip, audio) pairing that the analyzer can judge: real, swapped and shifted."""
    cfg = cfg or AvSyncConfig()
    rows = []
    for i, c in enumerate(clips):
        pairings: list[tuple[str, str, Envelope, float]] = [("real", c.path.name, c.env, 0.0)]
        pairings += [("swapped", o.path.name, o.env, 0.0) for j, o in enumerate(clips) if j != i]
        pairings += [("shifted", c.path.name, _shifted(c.env, s), s) for s in SHIFTS_S]
        for kind, audio, env, shift in pairings:
            res = sync(c.times, c.mouth, env, cfg)
            if isinstance(res, str):
                continue
            rows.append({"clip": c.path.name, "audio": audio, "kind": kind, "shift_s": shift,
                         "label": int(kind != "real"), "lag_s": res.lag_s, **res.features})
    return rows


def train(rows: list[dict[str, Any]], c: float = 0.3, seed: int = 0) -> tuple[JsonClassifier, dict[str, Any]]:
    """Fit on every row; AUCs are leave-one-clip-out (``cv_auc_swapped``: reals vs other clips' audio)."""
    clips = sorted({r["clip"] for r in rows if r["kind"] == "real"})
    if len(clips) < 3:
        raise ValueError(f"the avsync model needs at least 3 real clips with speech and a talking face; {len(clips)} "
                         "were usable: add clips with --real (each needs an audio track with a few seconds of speech)")
    rows = [r for r in rows if r["clip"] in clips]
    x = np.array([[r[k] for k in MODEL_FEATURES] for r in rows])
    y = np.array([r["label"] for r in rows])
    groups = np.array([r["clip"] for r in rows])
    oof = np.full(len(rows), np.nan)
    for held in clips:
        te = groups == held
        oof[te] = fit_balanced_logistic(x[~te], y[~te], c).predict_proba(x[te])[:, 1]
    kind = np.array([r["kind"] for r in rows])

    def auc_vs(k: str) -> float:
        sel = (kind == "real") | (kind == k)
        return float(roc_auc(y[sel], oof[sel]))

    prominence = np.array([r["prominence"] for r in rows])
    pipe = fit_balanced_logistic(x, y, c)
    metrics = {"cv_auc_swapped": auc_vs("swapped"), "cv_auc_shifted": auc_vs("shifted"),
               "rule_free_prominence_auc_swapped": float(roc_auc(y[kind != "shifted"], -prominence[kind != "shifted"])),
               "clips": len(clips), "rows": len(rows), "n_swapped": int((kind == "swapped").sum()),
               "n_shifted": int((kind == "shifted").sum())}
    meta = {"C": c, "seed": seed, "features_version": FEATURES_VERSION, "metrics": metrics, "shifts_s": list(SHIFTS_S),
            "model": "standardise + class-balanced L2 logistic regression", "clips": clips,
            "data_hash": sha256_bytes("\n".join(clips).encode()),
            "coef": dict(zip(MODEL_FEATURES, np.round(pipe[-1].coef_[0], 4).tolist(), strict=True))}
    return JsonClassifier.from_sklearn(pipe, MODEL_FEATURES, meta), metrics


def fit_avsync_model(reals: Iterable[str | Path], cache: Path | None = None, out: Path = WEIGHTS, c: float = 0.3,
                     seed: int = 0, on_clip: Callable[[Path, str], None] | None = None) -> dict[str, Any]:
    """Load the clips, build real/swapped/shifted rows, fit, save ``out`` (only on success); the metrics."""
    reals = list(reals)
    if not reals:
        raise ValueError("no real clips to train on: give --real VIDEO_OR_DIR ... (talking clips with speech)")
    clips = load_clips(reals, cache, on_clip)
    model, metrics = train(feature_rows(clips), c, seed)
    model.save(Path(out))
    return metrics
