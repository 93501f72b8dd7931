"""Audio-visual sync: does the mouth move with the speech on the audio track?

Why: a "cheapfake" keeps real footage and replaces the words (a dubbed or spliced audio track);
every frame is genuine, so frame analyzers cannot see it. Speech loudness rises and falls with
every syllable (2-8 Hz) and the jaw and lips open for it, about 0-300 ms before the sound comes
(Chandrasekaran et al., 2009). On a genuine clip the mouth's opening and the speech envelope
correlate at one small lag all through the clip; with someone else's audio they do not, and a
shifted track correlates at the wrong lag.

Per face track:

1. ``update()``: two mouth measures per frame from the 68 landmarks, in inter-ocular distances:
   jaw drop (chin to nose bridge) and outer lip height. (The inner lip gap was tried too: its
   landmarks are the noisiest, and adding it lowered the separation; docs/experiments.md.)
2. ``finish()``: the speech envelope of the audio track (fakescope.core.audio, streamed by ffmpeg).
   Both are put on a ``rate_hz`` grid over the time the track's face was seen, band-passed to the
   syllable band ``band_hz`` and cut into ``window_s`` windows (half overlap). In each window the
   correlation of each mouth measure with the envelope is computed at every lag within
   ``max_lag_s``; the curves of the measures are averaged, then the windows' curves, weighted by
   how much of each window is speech. ``lag_ms`` is the lag of the highest point of that curve
   (positive: the sound comes after the mouth), ``correlation`` its height. A window *disagrees*
   when its own correlation at the clip's best plausible lag is below ``disagree_below``.
3. Score: the shipped logistic model (``weights/avsync.json``, trained by
   ``forensics.train_avsync`` on real clips vs the same clips with other clips' audio and shifted
   audio) on ``MODEL_FEATURES``, or without it ``rule_score``.

Insufficient (score 0.5, no weight): no audio track or no ffmpeg; less than ``min_speech_s`` of
speech; less than ``min_face_s`` of the track's face overlapping the audio; a mouth that hardly
moves (a listener, a still photo): speech from someone else says nothing about this face.

Honest limits: landmark mouth measures are noisy, so on clips of under ~10 s of speech the
correlation of a genuine clip is often only 0.2-0.4 and a wrong track can reach that by chance;
see benchmarks/avsync_accuracy.py for measured figures. With several faces in view, each is held
against the one audio track: a listener whose mouth moves while someone else speaks can look out of
sync, which is one reason the fusion gives avsync little weight (fakescope.scan.fusion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core.analyzers import AnalyzerBase
from fakescope.core.audio import AudioUnavailable, Envelope, speech_envelope
from fakescope.core.types import Evidence, FaceObservation, VideoInfo
from forensics.jsonmodel import load_optional

WEIGHTS = Path(__file__).resolve().parent / "weights" / "avsync.json"
MOUTH_MEASURES = ("jaw", "outer")
FEATURE_NAMES = (
    "peak_corr",  # correlation at the best lag within the plausible range (sound -150..350 ms after the mouth)
    "prominence",  # that peak minus the median |correlation| over all lags: a peak that stands out
    "gap",  # how far the highest point over all lags rises above the plausible peak (a shifted track: far)
    "abs_lag_s",  # |lag| of the highest point over all lags (0 for a genuine clip, big for a shifted one)
    "outside",  # 1 when the highest point lies outside the plausible range
    "disagree_frac",  # share of windows whose correlation at the plausible lag is below disagree_below
)
# What the shipped model weighs: the in-range peak's prominence says whether this audio belongs to this
# mouth at all (replaced audio), the gap whether it fits better at an implausible lag (a shifted track).
# Adding peak_corr, abs_lag_s, outside and disagree_frac lowered the leave-one-clip-out AUC against
# replaced audio (docs/experiments.md); they stay in the JSON for the report and for rule_score.
MODEL_FEATURES = ("prominence", "gap")
FEATURES_VERSION = 1  # of the cached mouth measures (forensics.train_avsync); the features above derive from them


@dataclass(frozen=True)
class AvSyncConfig:
    rate_hz: float = 50.0
    band_hz: tuple[float, float] = (2.0, 8.0)
    max_lag_s: float = 1.0
    plausible_lag_s: tuple[float, float] = (-0.15, 0.35)  # sound after the mouth by -150..350 ms
    window_s: float = 6.0
    disagree_below: float = 0.05
    min_speech_s: float = 2.0
    min_face_s: float = 3.0
    max_gap_s: float = 0.3  # face gaps up to this are interpolated; longer ones are left out
    min_mouth_motion: float = 0.009  # std of the band-passed jaw drop (inter-ocular distances) while speech plays
    speech_db: float = 15.0  # speech: envelope this far above the recording's noise floor
    plot_max_s: float = 60.0


@dataclass(frozen=True)
class SyncResult:
    """What one track's mouth and the audio say about each other."""

    lag_s: float
    correlation: float
    features: dict[str, float]
    curve_lags_s: np.ndarray
    curve: np.ndarray
    disagreeing: list[tuple[float, float]]
    windows: int
    speech_s: float


def mouth_measures(landmarks68: np.ndarray) -> np.ndarray | None:
    """(jaw drop, outer lip height) in inter-ocular distances; None when the landmarks are degenerate."""
    lm = np.asarray(landmarks68, np.float64)
    iod = float(np.hypot(*(lm[45] - lm[36])))
    if iod <= 1e-6:
        return None
    return np.array([np.hypot(*(lm[8] - lm[27])), np.hypot(*(lm[51] - lm[57]))]) / iod


def speech_mask(env: Envelope, speech_db: float) -> np.ndarray:
    """Envelope samples that are speech: ``speech_db`` above the 10th-percentile noise floor."""
    floor = np.percentile(env.log_energy, 10)
    return env.log_energy > floor + speech_db * math.log(10) / 10


@lru_cache(maxsize=8)
def _band(rate: float, lo: float, hi: float) -> np.ndarray:
    from scipy.signal import butter

    return butter(2, [lo, hi], btype="bandpass", fs=rate, output="sos")


def _zscore(x: np.ndarray) -> np.ndarray:
    s = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(s > 1e-12, s, 1.0)


def _lagged_corr(m: np.ndarray, a: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """corr(m[t], a[t + lag]) for each lag (samples), per column of ``m``; (len(lags), m.shape[1])."""
    out = np.zeros((len(lags), m.shape[1]))
    n = len(a)
    for i, lag in enumerate(lags):
        if lag >= 0:
            mm, aa = m[: n - lag], a[lag:]
        else:
            mm, aa = m[-lag:], a[: n + lag]
        if len(aa) < 4:
            continue
        mm = _zscore(mm)
        aa = _zscore(aa[:, None])
        out[i] = (mm * aa).mean(axis=0)
    return out


def _segments(t: np.ndarray, max_gap: float) -> list[tuple[int, int]]:
    """Index ranges [i, j) of ``t`` without gaps longer than ``max_gap``."""
    if t.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(t) > max_gap) + 1
    edges = np.r_[0, cuts, t.size]
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a > 1]


def sync(times: np.ndarray, mouth: np.ndarray, env: Envelope, cfg: AvSyncConfig) -> SyncResult | str:
    """Compare one track's mouth measures (N x 3 at ``times``) with the speech envelope.

    Returns the SyncResult, or a reason string when there is too little to compare."""
    from scipy.signal import sosfiltfilt

    rate = cfg.rate_hz
    sos = _band(rate, *cfg.band_hz)
    is_speech = speech_mask(env, cfg.speech_db)
    env_smooth = np.convolve(env.log_energy, np.ones(4) / 4, mode="same")  # 40 ms: about one video frame
    max_lag = int(round(cfg.max_lag_s * rate))
    lags = np.arange(-max_lag, max_lag + 1)
    plausible = (lags >= cfg.plausible_lag_s[0] * rate) & (lags <= cfg.plausible_lag_s[1] * rate)
    win = int(round(cfg.window_s * rate))
    curves: list[np.ndarray] = []
    weights: list[float] = []
    spans: list[tuple[float, float]] = []
    per_window: list[np.ndarray] = []
    face_s = speech_s = 0.0
    motion: list[float] = []
    pad = 0.5  # s of band-pass settling kept out of each segment's ends
    for a, b in _segments(times, cfg.max_gap_s):
        t0, t1 = max(times[a], env.times[0]), min(times[b - 1], env.times[-1])
        if t1 - t0 < 2 * pad + cfg.min_face_s / 2:
            continue
        grid = np.arange(t0, t1, 1.0 / rate)
        m = np.stack([np.interp(grid, times[a:b], mouth[a:b, k]) for k in range(mouth.shape[1])], axis=1)
        au = np.interp(grid, env.times, env_smooth)
        sp = np.interp(grid, env.times, is_speech.astype(np.float64)) > 0.5
        m, au = sosfiltfilt(sos, m, axis=0), sosfiltfilt(sos, au)
        keep = slice(int(pad * rate), len(grid) - int(pad * rate))
        grid, m, au, sp = grid[keep], m[keep], au[keep], sp[keep]
        face_s += len(grid) / rate
        speech_s += sp.sum() / rate
        motion.append(float(m[sp, 0].std()) if sp.sum() > 10 else 0.0)
        n = len(grid)
        starts = [0] if n <= win else list(range(0, n - win + 1, win // 2))
        if n > win and starts[-1] + win < n:
            starts.append(n - win)
        for s in starts:
            e = min(s + win, n)
            share = sp[s:e].mean()
            if share < 0.2 or e - s < 2 * max_lag:
                continue
            c = _lagged_corr(m[s:e], au[s:e], lags).mean(axis=1)
            curves.append(c)
            per_window.append(c)
            weights.append(float(share) * (e - s))
            spans.append((float(grid[s]), float(grid[e - 1])))
    if speech_s < cfg.min_speech_s:
        return f"less than {cfg.min_speech_s:g} s of speech on the audio track while this face was seen"
    if face_s < cfg.min_face_s or not curves:
        return f"less than {cfg.min_face_s:g} s of this face's mouth overlaps speech"
    if max(motion) < cfg.min_mouth_motion:
        return "this face's mouth hardly moves while there is speech: the speaker is someone else, or a still"
    w = np.asarray(weights)
    curve = (np.stack(curves) * w[:, None]).sum(axis=0) / w.sum()
    best = int(np.argmax(curve))
    idx_plausible = np.flatnonzero(plausible)
    best_plausible = int(idx_plausible[np.argmax(curve[plausible])])
    disagreeing = [span for span, c in zip(spans, per_window, strict=True) if c[best_plausible] < cfg.disagree_below]
    feats = {
        "peak_corr": float(curve[best_plausible]),
        "prominence": float(curve[best_plausible] - np.median(np.abs(curve))),
        "gap": float(curve[best] - curve[best_plausible]),
        "abs_lag_s": float(abs(lags[best]) / rate),
        "outside": float(not plausible[best]),
        "disagree_frac": len(disagreeing) / len(spans),
    }
    return SyncResult(lag_s=float(lags[best] / rate), correlation=float(curve[best]), features=feats,
                      curve_lags_s=lags / rate, curve=curve, disagreeing=_merge(disagreeing),
                      windows=len(spans), speech_s=float(speech_s))


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def rule_score(features: dict[str, float]) -> float:
    """Without a fitted model: a clear in-range peak says real, a peak elsewhere or none says fake."""
    z = -6.0 * (features["peak_corr"] - 0.2) + 1.5 * features["outside"] + 1.5 * features["disagree_frac"] - 0.5
    return 1.0 / (1.0 + math.exp(-z))


class AvSyncAnalyzer(AnalyzerBase):
    name = "avsync"

    def __init__(self, config: AvSyncConfig | None = None, use_model: bool = True,
                 weights: Path = WEIGHTS) -> None:
        self.cfg = config or AvSyncConfig()
        self.use_model = use_model
        self.weights = Path(weights)
        self._path: str | None = None
        self._t: dict[int, list[float]] = {}
        self._m: dict[int, list[np.ndarray]] = {}

    @property
    def model_hashes(self) -> dict[str, str]:
        if self.use_model and self.weights.exists():
            from fakescope.core.hashing import sha256_file

            return {"avsync": sha256_file(self.weights)}
        return {}

    def start(self, info: VideoInfo) -> None:
        self._path = info.path
        self._t.clear()
        self._m.clear()

    def update(self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation],
               crops: Any) -> None:
        for f in faces:
            if f.quality.reason in ("turned", "low_confidence"):
                continue
            m = mouth_measures(f.landmarks)
            if m is not None:
                self._t.setdefault(f.track_id, []).append(float(timestamp))
                self._m.setdefault(f.track_id, []).append(m)

    def _insufficient(self, reason: str) -> Evidence:
        return Evidence(self.name, 0.5, "insufficient", {"lag_ms": None, "correlation": None,
                                                         "disagreeing_windows": [], "reason": reason})

    def finish(self) -> dict[int, Evidence]:
        if not self._t:
            return {}
        try:
            env = speech_envelope(self._path or "")
        except AudioUnavailable as exc:
            return {tid: self._insufficient(str(exc)) for tid in self._t}
        model = load_optional(str(self.weights), MODEL_FEATURES, "fakescope forensics train avsync") if self.use_model else None
        out: dict[int, Evidence] = {}
        for tid, ts in self._t.items():
            times, mouth = np.asarray(ts), np.stack(self._m[tid])
            res = sync(times, mouth, env, self.cfg)
            if isinstance(res, str):
                out[tid] = self._insufficient(res)
                continue
            x = np.array([[res.features[k] for k in MODEL_FEATURES]])
            score = float(model.predict_proba(x)[0]) if model is not None else rule_score(res.features)
            out[tid] = Evidence(self.name, score, "ok", {
                "lag_ms": round(1000 * res.lag_s, 1), "correlation": round(res.correlation, 4),
                "disagreeing_windows": [[round(a, 2), round(b, 2)] for a, b in res.disagreeing],
                "features": {k: round(v, 5) for k, v in res.features.items()},
                "windows": res.windows, "speech_s": round(res.speech_s, 2),
                "plausible_lag_ms": [round(1000 * x) for x in self.cfg.plausible_lag_s],
                "lag_curve": [[round(float(lag), 3), round(float(c), 4)] for lag, c in
                              zip(res.curve_lags_s[::2], res.curve[::2], strict=True)],
                "curves": self._plot_curves(times, mouth, env),
            })
        return out

    def _plot_curves(self, t: np.ndarray, mouth: np.ndarray, env: Envelope) -> dict[str, list[float]]:
        """The mouth opening and the speech envelope on a 10 Hz grid (first ``plot_max_s``), for the report."""
        t1 = min(t[-1], env.times[-1], t[0] + self.cfg.plot_max_s)
        if t1 <= t[0]:
            return {"t": [], "mouth": [], "audio": []}
        grid = np.arange(t[0], t1, 0.1)
        opening = np.interp(grid, t, mouth[:, 0])
        audio = np.interp(grid, env.times, env.log_energy)
        return {"t": np.round(grid, 2).tolist(), "mouth": np.round(opening, 4).tolist(),
                "audio": np.round(audio, 3).tolist()}


def make_analyzer(config: object) -> AvSyncAnalyzer:
    return AvSyncAnalyzer()
