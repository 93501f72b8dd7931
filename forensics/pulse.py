"""Skin colour over time: a remote pulse (rPPG) per skin region, and how coherent it is.

Why: blood volume in the skin changes with every heartbeat and tints it very slightly (a few tenths
of a percent, most in green). On a real face that tint is one signal: forehead, both cheeks and the
neck beat at the same frequency and nearly the same phase. A swapped or synthesised face is drawn
frame by frame by a network that cannot see or keep that tint, so its regions lose the shared
pulse and the face flickers in colour against the neck and the rest of the frame (prior art:
FakeCatcher, Ciftci et al. 2020; CHROM, de Haan & Jeanne 2013; POS, Wang et al. 2017).

Pipeline per face track:

1. ``update()``: mean BGR colour of four landmark polygons (forehead above the brows, both cheeks,
   a patch of neck below the chin), computed on each polygon's bounding rectangle only, plus the
   mean colour of the whole frame (on about 48 of its rows) and the landmark motion.
2. ``finish()``: frames are *stable* when the forehead and both cheeks lie inside the frame with at
   least ``min_region_px`` pixels each, the inter-ocular distance is at least ``min_iod_px`` and the
   landmarks moved less than ``max_motion`` inter-ocular distances since the previous frame
   (scaled to a 30 fps frame step). Stable frames separated by at most ``max_gap_s`` form one
   stable segment.
3. Each stable segment of at least ``min_stable_s`` seconds is resampled onto a uniform 30 Hz grid
   (timestamps come from the decoder, so variable-frame-rate video is handled) and cut into
   ``window_s`` windows with 50 % overlap. Per window and region: POS signal, zero-phase
   Butterworth band-pass 0.7-4 Hz (42-240 bpm), Hann-windowed spectrum.
4. Features per window, averaged over windows (see ``FEATURE_NAMES``): SNR of the dominant pulse
   peak of the whole face (de Haan's SNR: power at the peak and its harmonic against the rest of
   the band), the mean SNR of the inner regions, how far the inner regions' peak frequencies
   disagree, the phase agreement of the inner regions at their joint peak frequency, their pairwise
   correlation, the correlation of the inner face with the neck, and the colour flicker of the face
   (frame-to-frame change not explained by the change of the whole frame).
5. Score: the shipped logistic regression (``weights/pulse.json``, trained by
   ``forensics.train_pulse``) on those features, or without it ``rule_score``. A pulse is
   *detected* when, in at least half of the windows, the face's SNR is at least ``detect_snr_db``
   and at least two of the three inner regions peak within ``agree_bpm`` of the face's peak; its
   ``bpm`` is then the median face peak over those windows, otherwise ``bpm`` is null.

Insufficient rule: a track whose longest stable segment is shorter than ``min_stable_s`` (5 s)
gets status ``insufficient``, score 0.5 and bpm null: five seconds hold only 3-20 beats, below
which neither the peak nor its coherence can be told from noise. A missing neck (out of the frame,
covered) is not insufficient: its feature is imputed with the model's training mean, which gives
it no weight.

Honest limits: compression (H.264 at web bit rates) removes most of the pulse from real video, so
on compressed clips the SNR features are weak; the coherence and flicker features carry most of
the signal there. See benchmarks/pulse_accuracy.py for measured figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.core.analyzers import AnalyzerBase
from fakescope.core.types import Evidence, FaceObservation, VideoInfo
from forensics.jsonmodel import JsonClassifier

WEIGHTS = Path(__file__).resolve().parent / "weights" / "pulse.json"
REGIONS = ("forehead", "left_cheek", "right_cheek", "neck")
INNER = REGIONS[:3]
FEATURE_NAMES = (
    "snr_db",  # de Haan SNR of the whole-face pulse peak
    "region_snr_db",  # mean SNR of forehead and cheeks
    "freq_spread_bpm",  # log1p of the largest difference between inner-region peak frequencies (bpm)
    "phase_coherence",  # mean resultant length of inner-region phases at their joint peak
    "inner_corr",  # mean pairwise correlation of the band-passed inner-region signals
    "surround_corr",  # correlation of the inner face with the neck
    "flicker",  # log10 RMS of the face's frame-to-frame colour change beyond the frame's
)
FEATURES_VERSION = 2  # bump when a feature's definition changes: cached training features are then stale
BAND_HZ = (0.7, 4.0)
FS = 30.0  # uniform grid the colour traces are resampled onto


@dataclass(frozen=True)
class PulseConfig:
    """Knobs of the region geometry, the stability rule and the pulse detector (documented above)."""

    min_stable_s: float = 5.0
    window_s: float = 10.0
    max_gap_s: float = 0.25  # invalid frames bridged inside one stable segment
    max_motion: float = 0.08  # mean landmark displacement per 1/30 s, in inter-ocular distances
    min_iod_px: float = 24.0
    min_region_px: int = 60
    min_inside: float = 0.8  # share of a region's polygon that must lie inside the frame
    pos_window_s: float = 1.6  # POS projection window (Wang et al. 2017)
    detect_snr_db: float = -3.0
    agree_bpm: float = 6.0
    plot_fs: float = 15.0  # sampling rate of the signals kept for the report plot
    plot_max_s: float = 60.0


# --- geometry ------------------------------------------------------------------------------------

_R_CHEEK = (1, 2, 3, 48, 31, 40, 41)  # subject's right cheek (image left for a frontal face)
_L_CHEEK = (15, 14, 13, 54, 35, 47, 46)
_BROWS = (18, 19, 20, 21, 22, 23, 24, 25)


def _face_axes(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit vector along the eyes (subject's right to left eye corner), unit 'down', and the IOD."""
    axis = lm[45] - lm[36]
    iod = float(np.hypot(axis[0], axis[1]))
    if iod <= 1e-6:
        return np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.0
    ux = axis / iod
    return ux, np.array([-ux[1], ux[0]]), iod


def region_polygons(landmarks68: np.ndarray) -> dict[str, np.ndarray]:
    """Skin polygons (float32 N x 2 in frame pixels) for each name in ``REGIONS``.

    Cheeks are landmark polygons shrunk by a quarter towards their centroid, so that jaw outline,
    nose and beard edges stay out; the forehead is the band 0.15-0.5 inter-ocular distances above
    the brows (hair starts higher on most foreheads); the neck a rectangle under the chin.
    """
    lm = np.asarray(landmarks68, np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"expected 68x2 dlib landmarks, got shape {lm.shape}; pass FaceObservation.landmarks")
    ux, uy, iod = _face_axes(lm)
    out: dict[str, np.ndarray] = {}
    brow = lm[list(_BROWS)]
    out["forehead"] = np.vstack([brow - 0.15 * iod * uy, (brow - 0.5 * iod * uy)[::-1]])
    for name, idx in (("left_cheek", _L_CHEEK), ("right_cheek", _R_CHEEK)):
        pts = lm[list(idx)]
        c = pts.mean(0)
        out[name] = c + 0.75 * (pts - c)
    chin = lm[8] + 0.45 * iod * uy
    hw, hh = 0.4 * iod * ux, 0.22 * iod * uy
    out["neck"] = np.array([chin - hw - hh, chin + hw - hh, chin + hw + hh, chin - hw + hh])
    return {k: v.astype(np.float32) for k, v in out.items()}


def region_mean(frame_bgr: np.ndarray, poly: np.ndarray, min_px: int, min_inside: float) -> tuple[np.ndarray, int] | None:
    """Mean BGR of the pixels inside ``poly``, on its bounding rectangle only (cheap at 4K too).

    None when too little of the polygon lies inside the frame or it covers fewer than ``min_px``.
    """
    poly = np.asarray(poly, np.float32)
    h, w = frame_bgr.shape[:2]
    x0, y0 = np.floor(poly.min(0)).astype(int)
    x1, y1 = np.ceil(poly.max(0)).astype(int) + 1
    full = float(cv2.contourArea(poly))
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx1 - cx0 < 2 or cy1 - cy0 < 2 or full < min_px:
        return None
    mask = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
    cv2.fillPoly(mask, [np.round(poly - (cx0, cy0)).astype(np.int32)], 255)
    n = cv2.countNonZero(mask)
    if n < min_px or n < min_inside * full:
        return None
    m = cv2.mean(frame_bgr[cy0:cy1, cx0:cx1], mask=mask)
    return np.array(m[:3], np.float64), int(n)


# --- signals -------------------------------------------------------------------------------------

def pos_signal(bgr: np.ndarray, fs: float, window_s: float = 1.6) -> np.ndarray:
    """POS pulse signal (Wang et al. 2017) of an (n, 3) BGR trace on a uniform grid.

    Each ``window_s`` window is normalised by its temporal mean (removing skin tone and slow
    lighting), projected on the plane orthogonal to the skin-tone direction, the two projections are
    mixed with the ratio of their spreads (cancelling specular and motion changes) and the windows
    are overlap-added.
    """
    c = np.asarray(bgr, np.float64)[:, ::-1]  # RGB
    n = len(c)
    win = max(2, int(round(window_s * fs)))
    if n < win:
        win = n
    seg = np.lib.stride_tricks.sliding_window_view(c, win, axis=0)  # (n-win+1, 3, win)
    mean = seg.mean(axis=2, keepdims=True)
    cn = seg / np.maximum(mean, 1e-6)
    s1 = cn[:, 1] - cn[:, 2]  # G - B
    s2 = cn[:, 1] + cn[:, 2] - 2.0 * cn[:, 0]  # G + B - 2R
    alpha = s1.std(axis=1, keepdims=True) / np.maximum(s2.std(axis=1, keepdims=True), 1e-12)
    hh = s1 + alpha * s2
    hh -= hh.mean(axis=1, keepdims=True)
    out = np.zeros(n)
    for k in range(win):  # overlap-add: window j covers samples j..j+win-1
        out[k : k + len(hh)] += hh[:, k]
    return out


def bandpass(x: np.ndarray, fs: float, band: tuple[float, float] = BAND_HZ, order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth band-pass (42-240 bpm by default), applied in the frequency domain.

    The gain is |H(f)|^2 of an analog Butterworth band-pass of ``order``, which is what filtering
    forwards and backwards (filtfilt) gives, without importing scipy.signal (over a second on a
    busy machine: a scan's budget). The signal is mirrored at both ends first so the circular
    FFT sees no jump at the edges.
    """
    x = np.asarray(x, np.float64)
    n = len(x)
    if n < 4:
        return x - x.mean() if n else x
    pad = min(n - 1, int(round(2 * fs / band[0])))  # two periods of the lowest passed frequency
    ext = np.concatenate([2 * x[0] - x[pad:0:-1], x, 2 * x[-1] - x[-2 : -pad - 2 : -1]])
    f = np.fft.rfftfreq(len(ext), 1.0 / fs)
    f0, bw = math.sqrt(band[0] * band[1]), band[1] - band[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(f > 0, (f**2 - f0**2) / (np.maximum(f, 1e-12) * bw), np.inf)
    gain = 1.0 / (1.0 + q ** (2 * order))  # |H|^2 of the analog prototype
    return np.fft.irfft(np.fft.rfft(ext) * gain, n=len(ext))[pad : pad + n]


def spectrum(x: np.ndarray, fs: float, nfft: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, complex rFFT) of a Hann-windowed, zero-padded signal."""
    x = np.asarray(x, np.float64)
    spec = np.fft.rfft((x - x.mean()) * np.hanning(len(x)), n=max(nfft, len(x)))
    return np.fft.rfftfreq(max(nfft, len(x)), 1.0 / fs), spec


def peak_and_snr(freqs: np.ndarray, power: np.ndarray, duration_s: float) -> tuple[float, float]:
    """Dominant frequency in the pulse band and de Haan's SNR (dB) around it and its harmonic."""
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    if not np.any(band) or float(power[band].sum()) <= 0:
        return float("nan"), float("nan")
    f0 = float(freqs[band][int(np.argmax(power[band]))])
    hw = max(0.1, 1.5 / max(duration_s, 1e-6))  # about the Hann main lobe of this window length
    sig = band & ((np.abs(freqs - f0) <= hw) | (np.abs(freqs - 2 * f0) <= 2 * hw))
    s, noise = float(power[sig].sum()), float(power[band & ~sig].sum())
    return f0, 10.0 * math.log10(max(s, 1e-30) / max(noise, 1e-30))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = float(np.std(a)), float(np.std(b))
    if sa <= 1e-12 or sb <= 1e-12:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


@dataclass
class WindowResult:
    """Everything one analysis window yields: features, per-region peaks and the spectra."""

    features: dict[str, float]
    face_bpm: float
    region_bpm: dict[str, float]
    region_snr: dict[str, float]
    detected: bool
    freqs: np.ndarray = field(repr=False)
    power: dict[str, np.ndarray] = field(repr=False)


def analyse_window(traces: dict[str, np.ndarray | None], raw_face: np.ndarray,
                   raw_frame: np.ndarray, consecutive: np.ndarray, fs: float, config: PulseConfig) -> WindowResult:
    """Features of one window. ``traces``: (n, 3) BGR per region on the uniform grid (neck may be
    None); ``raw_face`` / ``raw_frame``: (m, 3) colour of the decoded stable frames, and which of
    their m-1 steps join consecutive decoded frames (flicker is measured on those steps only)."""
    inner = [traces[r] for r in INNER]
    dur = len(inner[0]) / fs
    face = np.mean(np.stack(inner), axis=0)
    sig: dict[str, np.ndarray] = {}
    for name, tr in (("face", face), *((r, traces[r]) for r in REGIONS)):
        if tr is not None:
            sig[name] = bandpass(pos_signal(tr, fs, config.pos_window_s), fs)
    freqs, spec = {}, {}
    for name, s in sig.items():
        freqs, spec[name] = spectrum(s, fs)
    power = {k: np.abs(v) ** 2 for k, v in spec.items()}
    f_face, snr_face = peak_and_snr(freqs, power["face"], dur)
    peaks = {r: peak_and_snr(freqs, power[r], dur) for r in sig if r != "face"}
    offsets = [abs(peaks[r][0] - f_face) * 60.0 for r in INNER]
    spread = max(abs(peaks[a][0] - peaks[b][0]) * 60.0 for i, a in enumerate(INNER) for b in INNER[i + 1 :])
    # phases are compared where the regions beat hardest together regardless of phase (the peak of
    # their summed, normalised power), not at the face's peak: regions beating out of step cancel in
    # the face's mean, whose peak then falls on noise
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    joint = sum(power[r] / max(float(power[r][band].sum()), 1e-30) for r in INNER)
    k0 = int(np.flatnonzero(band)[int(np.argmax(joint[band]))])
    phasors = np.array([spec[r][k0] for r in INNER])
    phasors = phasors / np.maximum(np.abs(phasors), 1e-30)
    pair = [_corr(sig[a], sig[b]) for i, a in enumerate(INNER) for b in INNER[i + 1 :]]
    surround = _corr(sig["face"], sig["neck"]) if "neck" in sig else float("nan")

    # flicker: relative frame-to-frame change of the face colour beyond what the whole frame did
    flicker = float("nan")
    if int(np.sum(consecutive)) >= 10:
        rf = raw_face / np.maximum(raw_face.mean(0), 1e-6)
        rb = raw_frame / np.maximum(raw_frame.mean(0), 1e-6)
        df, db = np.diff(rf, axis=0)[consecutive], np.diff(rb, axis=0)[consecutive]
        res = []
        for ch in range(3):
            beta = float(np.dot(df[:, ch], db[:, ch]) / max(float(np.dot(db[:, ch], db[:, ch])), 1e-12))
            res.append(df[:, ch] - beta * db[:, ch])
        flicker = math.log10(float(np.sqrt(np.mean(np.square(res)))) + 1e-6)

    feats = {
        "snr_db": snr_face,
        "region_snr_db": float(np.mean([peaks[r][1] for r in INNER])),
        "freq_spread_bpm": math.log1p(spread),
        "phase_coherence": float(np.abs(phasors.mean())),
        "inner_corr": float(np.mean(pair)),
        "surround_corr": surround,
        "flicker": flicker,
    }
    agree = sum(o <= config.agree_bpm for o in offsets)
    detected = bool(snr_face >= config.detect_snr_db and agree >= 2)
    return WindowResult(feats, f_face * 60.0, {r: p[0] * 60.0 for r, p in peaks.items()},
                        {r: p[1] for r, p in peaks.items()}, detected, freqs, power)


# --- per-track bookkeeping -----------------------------------------------------------------------

@dataclass
class _Track:
    t: list[float] = field(default_factory=list)
    frame: list[int] = field(default_factory=list)
    stable: list[bool] = field(default_factory=list)
    colours: list[np.ndarray] = field(default_factory=list)  # (4, 3) per frame, NaN where invalid
    whole: list[np.ndarray] = field(default_factory=list)  # (3,) whole-frame mean
    last_lm: np.ndarray | None = None
    last_t: float = float("nan")


def stable_segments(t: np.ndarray, stable: np.ndarray, max_gap_s: float) -> list[tuple[int, int]]:
    """Index ranges [a, b] of stable samples whose consecutive gaps are at most ``max_gap_s``."""
    idx = np.flatnonzero(stable)
    if len(idx) == 0:
        return []
    segs, start = [], idx[0]
    for prev, cur in zip(idx[:-1], idx[1:], strict=True):
        if t[cur] - t[prev] > max_gap_s:
            segs.append((int(start), int(prev)))
            start = cur
    segs.append((int(start), int(idx[-1])))
    return segs


@lru_cache(maxsize=4)
def load_pulse_model(path: str | None = None) -> JsonClassifier:
    model = JsonClassifier.load(Path(path) if path else WEIGHTS, "fakescope forensics train pulse")
    if tuple(model.feature_names) != FEATURE_NAMES:
        raise ValueError(f"{path or WEIGHTS} was trained on features {model.feature_names}, this code makes "
                         f"{FEATURE_NAMES}; retrain it with `fakescope forensics train pulse`")
    return model


def rule_score(features: dict[str, float]) -> float:
    """P(fake) without a trained model, from pulse strength and cross-region coherence alone.

    evidence = 0.25 * clip((snr_db + 6) / 8) + 0.25 * phase_coherence + 0.25 * max(inner_corr, 0)
               + 0.25 * max(surround_corr, 0)      (neck term replaced by the inner one when missing)
    score = 0.1 + 0.8 * (1 - evidence): a strong, coherent pulse reads about 0.1-0.2, noise with no
    shared pulse about 0.6-0.8. Kept deliberately mild because compression alone can erase a pulse.
    """
    snr = features.get("snr_db", float("nan"))
    s = min(max((snr + 6.0) / 8.0, 0.0), 1.0) if math.isfinite(snr) else 0.0
    pc = features.get("phase_coherence", 0.0)
    ic = max(features.get("inner_corr", 0.0), 0.0)
    sc = features.get("surround_corr", float("nan"))
    sc = max(sc, 0.0) if math.isfinite(sc) else ic
    evidence = 0.25 * s + 0.25 * pc + 0.25 * ic + 0.25 * sc
    return float(min(max(0.1 + 0.8 * (1.0 - evidence), 0.0), 1.0))


def _round(x: float, k: int = 4) -> float | None:
    return round(float(x), k) if math.isfinite(float(x)) else None


class PulseAnalyzer(AnalyzerBase):
    """Analyzer (fakescope.core.analyzers protocol): region colours per frame, pulse evidence per track."""

    name = "pulse"

    def __init__(self, config: PulseConfig | None = None, model: JsonClassifier | None = None,
                 use_model: bool = True) -> None:
        self.config = config or PulseConfig()
        self._model = model
        self._use_model = use_model
        self._tracks: dict[int, _Track] = {}
        self._started = False

    @property
    def model_hashes(self) -> dict[str, str]:
        """sha256 of the shipped weights file when it scores (recorded in the verdict's versions)."""
        if self._use_model and self._model is None and WEIGHTS.exists():
            from fakescope.core.hashing import sha256_file

            return {"pulse": sha256_file(WEIGHTS)}
        return {}

    def _get_model(self) -> JsonClassifier | None:
        if not self._use_model:
            return None
        if self._model is None and WEIGHTS.exists():
            return load_pulse_model()
        return self._model

    def start(self, info: VideoInfo) -> None:
        self._tracks = {}
        self._started = True

    def update(self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation],
               crops: Any) -> None:
        if not faces:
            return
        cfg = self.config
        # every k-th full row (about 48 rows): row slices stay contiguous, so this stays cheap
        whole = np.array(cv2.mean(frame_bgr[:: max(1, frame_bgr.shape[0] // 48)])[:3], np.float64)
        for face in faces:
            tr = self._tracks.setdefault(face.track_id, _Track())
            lm = np.asarray(face.landmarks, np.float64)
            colours = np.full((len(REGIONS), 3), np.nan)
            ok = lm.shape == (68, 2) and bool(np.all(np.isfinite(lm))) and face.quality.usable
            if ok:
                _, _, iod = _face_axes(lm)
                ok = iod >= cfg.min_iod_px
            if ok:
                for k, poly in enumerate(region_polygons(lm).values()):
                    got = region_mean(frame_bgr, poly, cfg.min_region_px, cfg.min_inside)
                    if got is not None:
                        colours[k] = got[0]
                ok = bool(np.all(np.isfinite(colours[:3])))
                if ok and tr.last_lm is not None and math.isfinite(tr.last_t):
                    dt = max(float(timestamp) - tr.last_t, 1e-3)
                    motion = float(np.mean(np.hypot(*(lm - tr.last_lm).T))) / iod * (1.0 / 30.0) / min(dt, 1.0)
                    ok = motion <= cfg.max_motion
                tr.last_lm, tr.last_t = lm, float(timestamp)
            tr.t.append(float(timestamp))
            tr.frame.append(int(frame_index))
            tr.stable.append(ok)
            tr.colours.append(colours)
            tr.whole.append(whole)

    def track_evidence(self, tr: _Track) -> Evidence:
        cfg = self.config
        t = np.asarray(tr.t)
        frames = np.asarray(tr.frame)
        stable = np.asarray(tr.stable, bool)
        colours = np.stack(tr.colours) if tr.colours else np.zeros((0, len(REGIONS), 3))
        whole = np.stack(tr.whole) if tr.whole else np.zeros((0, 3))
        segs = [(a, b) for a, b in stable_segments(t, stable, cfg.max_gap_s) if t[b] - t[a] >= cfg.min_stable_s]
        stable_s = float(sum(t[b] - t[a] for a, b in segs))
        longest = max((float(t[b] - t[a]) for a, b in stable_segments(t, stable, cfg.max_gap_s)), default=0.0)
        base = {"bpm": None, "stable_seconds": round(longest, 2)}
        if not segs:
            return Evidence("pulse", 0.5, "insufficient", {
                **base, "reason": f"the face was stable for at most {longest:.1f} s; a pulse needs "
                                  f"{cfg.min_stable_s:.0f} s of steady, well-lit face"})

        windows: list[WindowResult] = []
        plot: dict[str, Any] | None = None
        for a, b in segs:
            idx = np.arange(a, b + 1)
            idx = idx[stable[idx]]
            grid = np.arange(t[idx[0]], t[idx[-1]] + 1e-9, 1.0 / FS)
            traces: dict[str, np.ndarray | None] = {}
            for k, name in enumerate(REGIONS):
                col = colours[idx, k]
                good = np.all(np.isfinite(col), axis=1)
                if good.sum() < 0.9 * len(idx):
                    traces[name] = None  # only the neck can miss: the inner regions define stability
                    continue
                traces[name] = np.stack([np.interp(grid, t[idx][good], col[good, c]) for c in range(3)], axis=1)
            win = int(round(min(cfg.window_s, grid[-1] - grid[0]) * FS))
            starts = list(range(0, max(1, len(grid) - win + 1), max(1, win // 2)))
            for s0 in starts:
                sl = slice(s0, s0 + win)
                tw0, tw1 = grid[s0], grid[min(s0 + win, len(grid)) - 1]
                raw = idx[(t[idx] >= tw0) & (t[idx] <= tw1)]
                consecutive = np.diff(frames[raw]) == 1
                windows.append(analyse_window({k: (v[sl] if v is not None else None) for k, v in traces.items()},
                                              colours[raw, :3].mean(axis=1), whole[raw],
                                              consecutive, FS, cfg))
            if plot is None or (grid[-1] - grid[0]) > plot["_duration"]:
                plot = self._plot_data(traces, grid, cfg)

        feats = {k: float(np.nanmean([w.features[k] for w in windows])) if any(
            math.isfinite(w.features[k]) for w in windows) else float("nan") for k in FEATURE_NAMES}
        hits = [w for w in windows if w.detected]
        detected = len(hits) >= 0.5 * len(windows)
        bpm = float(np.median([w.face_bpm for w in hits])) if detected else None
        model = self._get_model()
        if model is not None:
            x = np.array([feats[k] if math.isfinite(feats[k]) else float(model.mean[i])
                          for i, k in enumerate(FEATURE_NAMES)])
            score = float(model.predict_proba(x)[0])
            how = "model"
        else:
            score, how = rule_score(feats), "rule"
        # spectra averaged over windows on a common grid, normalised per region to peak 1
        fgrid = np.round(np.arange(0.5, 4.5001, 0.025), 3)
        spectra: dict[str, Any] = {"freq_hz": fgrid.tolist()}
        for name in ("face", *REGIONS):
            ps = [np.interp(fgrid, w.freqs, w.power[name]) for w in windows if name in w.power]
            if ps:
                p = np.mean(ps, axis=0)
                spectra[name] = [round(float(v), 4) for v in p / max(float(p.max()), 1e-30)]
        region_bpm = {r: _round(float(np.median([w.region_bpm[r] for w in windows if r in w.region_bpm])), 1)
                      for r in REGIONS if any(r in w.region_bpm for w in windows)}
        assert plot is not None
        plot.pop("_duration")
        details: dict[str, Any] = {
            "bpm": _round(bpm, 1) if bpm is not None else None,
            "detected": detected,
            "snr_db": _round(feats["snr_db"], 2),
            "windows": len(windows),
            "windows_with_pulse": len(hits),
            "stable_seconds": round(stable_s, 2),
            "scored_by": how,
            "features": {k: _round(v) for k, v in feats.items()},
            "regions": {r: {"bpm": region_bpm.get(r),
                            "snr_db": _round(float(np.nanmedian([w.region_snr[r] for w in windows if r in w.region_snr])), 2)
                            if any(r in w.region_snr for w in windows) else None} for r in REGIONS},
            "signals": plot,
            "spectra": spectra,
        }
        return Evidence("pulse", min(max(score, 0.0), 1.0), "ok", details)

    @staticmethod
    def _plot_data(traces: dict[str, np.ndarray | None], grid: np.ndarray, cfg: PulseConfig) -> dict[str, Any]:
        """Band-passed POS signal of each region over one whole segment, unit variance, at plot_fs."""
        n = min(len(grid), int(cfg.plot_max_s * FS))
        step = max(1, int(round(FS / cfg.plot_fs)))
        out: dict[str, Any] = {"t0": round(float(grid[0]), 3), "fs": FS / step, "_duration": float(grid[-1] - grid[0])}
        inner = [traces[r] for r in INNER if traces[r] is not None]
        items = [("face", np.mean(np.stack(inner), axis=0))] + [(r, traces[r]) for r in REGIONS]
        for name, tr in items:
            if tr is None:
                continue
            s = bandpass(pos_signal(tr[:n], FS, cfg.pos_window_s), FS)
            s = s / max(float(np.std(s)), 1e-12)
            out[name] = [round(float(v), 3) for v in s[::step]]
        return out

    def finish(self) -> dict[int, Evidence]:
        if not self._started:
            raise ValueError("PulseAnalyzer.finish() called before start(info)")
        return {tid: self.track_evidence(tr) for tid, tr in self._tracks.items() if tr.t}


def make_analyzer(config: object = None) -> PulseAnalyzer:
    """Factory for fakescope.core.analyzers.build_analyzers; scores with the rule when no model is shipped."""
    return PulseAnalyzer()
