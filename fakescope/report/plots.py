"""PNG figures for audit and scan reports.

matplotlib is imported inside each function (importing fakescope must stay cheap) and figures
are drawn on a bare ``Figure`` with the Agg canvas, never through pyplot: no global backend
switch, no figure registry to leak, and safe when a dashboard renders plots from threads.

Every function returns PNG bytes, or writes the PNG atomically and returns its path when
``path`` is given. ``png_data_uri`` turns either into a data URI for self-contained HTML.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.core import metrics
from fakescope.core.atomicio import write_bytes_atomic

Series = Mapping[str, tuple[Sequence[int] | np.ndarray, Sequence[float] | np.ndarray]]
PathLike = str | os.PathLike[str]

_DPI = 100


def _figure(width: float = 6.0, height: float = 4.5, nrows: int = 1, ncols: int = 1,
            top: float = 0.92, **kw: Any):
    """Fixed margins instead of constrained layout: layout solving doubled the render time."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    fig.subplots_adjust(left=0.6 / width, right=1 - 0.15 / width, bottom=0.5 / height * nrows ** 0.3,
                        top=top, wspace=0.3, hspace=0.45 if "sharex" not in kw else 0.08)
    return fig, axes


def _finish(fig, path: PathLike | None) -> Path | bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    data = buf.getvalue()
    if path is None:
        return data
    return write_bytes_atomic(path, data)


def _integer_ticks(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def png_data_uri(path_or_bytes: PathLike | bytes) -> str:
    """``data:image/png;base64,...`` so a report is one file that can be mailed or archived."""
    if isinstance(path_or_bytes, bytes | bytearray):
        data = bytes(path_or_bytes)
    else:
        data = Path(path_or_bytes).read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("png_data_uri expects PNG data (a file written by fakescope.report.plots or PNG bytes)")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _two_classes(y) -> bool:
    y = np.asarray(y)
    return y.size > 0 and 0 < int(np.sum(y == 1)) < y.size


def roc_plot(series: Series, path: PathLike | None = None, title: str = "ROC") -> Path | bytes:
    """ROC curves of several models on one axis, AUC in the legend."""
    fig, axes = _figure()
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="chance")
    for name, (y, s) in series.items():
        if not _two_classes(y):
            ax.plot([], [], label=f"{name} (undefined: one class)")
            continue
        fpr, tpr, _ = metrics.roc_curve(y, s)
        ax.plot(fpr, tpr, lw=1.8, drawstyle="default", label=f"{name} (AUC {metrics.roc_auc(y, s):.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate (reals called fake)",
           ylabel="true positive rate (fakes caught)", title=title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def pr_plot(series: Series, path: PathLike | None = None, title: str = "Precision-recall") -> Path | bytes:
    """PR curves (fake = positive) of several models on one axis, AP in the legend."""
    fig, axes = _figure()
    ax = axes[0, 0]
    base, base_n = None, 0
    for name, (y, s) in series.items():
        if not _two_classes(y):
            ax.plot([], [], label=f"{name} (undefined: one class)")
            continue
        precision, recall, _ = metrics.pr_curve(y, s)
        # P_k holds on (R_{k-1}, R_k]: the same steps that average_precision sums
        ax.step(recall, precision, where="pre", lw=1.8,
                label=f"{name} (AP {metrics.average_precision(y, s):.3f})")
        if len(y) > base_n:  # chance line of the largest series (scorers may have failed on some items)
            base, base_n = float(np.mean(np.asarray(y) == 1)), len(y)
    if base is not None:
        ax.axhline(base, color="0.7", lw=1, ls="--", label=f"fake share {base:.2f}")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision", title=title)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def reliability_plot(series: Series, path: PathLike | None = None, n_bins: int = 10,
                     title: str = "Reliability") -> Path | bytes:
    """Observed fake share against mean predicted P(fake) per equal-width bin, with bin counts.

    Uses the same bins as ``metrics.expected_calibration_error`` so the ECE in the legend is
    exactly the weighted gap the eye sees.
    """
    fig, axes = _figure(6.0, 6.0, 2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax, axc = axes[0, 0], axes[1, 0]
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="perfect calibration")
    width = 1.0 / n_bins
    names = list(series)
    for k, name in enumerate(names):
        y, s = series[name]
        if len(np.asarray(y)) == 0:
            continue
        b = metrics.reliability_bins(y, s, n_bins)
        used = b.counts > 0
        ece = metrics.expected_calibration_error(y, s, n_bins)
        ax.plot(b.mean_score[used], b.frac_fake[used], marker="o", lw=1.5, label=f"{name} (ECE {ece:.3f})")
        offs = (k + 0.5) / max(len(names), 1) * width
        axc.bar(b.edges[:-1] + offs, b.counts, width=width / max(len(names), 1), align="center", label=name)
    ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), ylabel="observed fraction fake", title=title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    axc.set(xlabel="predicted P(fake)", ylabel="items")
    _integer_ticks(axc)
    axc.grid(alpha=0.3)
    return _finish(fig, path)


def score_histograms(series: Series, path: PathLike | None = None, bins: int = 20,
                     thresholds: Mapping[str, float] | None = None,
                     title: str = "Score distributions") -> Path | bytes:
    """One panel per model: P(fake) histograms of real and fake items, threshold marked."""
    names = list(series) or ["(no scorer)"]
    ncols = min(3, len(names))
    nrows = (len(names) + ncols - 1) // ncols
    fig, axes = _figure(4.0 * ncols, 3.2 * nrows, nrows, ncols, top=1 - 0.55 / (3.2 * nrows))
    edges = np.linspace(0, 1, bins + 1)
    for k in range(nrows * ncols):
        ax = axes[k // ncols, k % ncols]
        if k >= len(series):
            ax.set_axis_off()
            continue
        name = names[k]
        y, s = (np.asarray(a) for a in series[name])
        for cls, label, color in ((0, "real", "tab:blue"), (1, "fake", "tab:red")):
            vals = s[y == cls]
            if vals.size:
                ax.hist(np.clip(vals, 0, 1), bins=edges, alpha=0.5, color=color, histtype="stepfilled",
                        label=f"{label} (n={vals.size})")
        if thresholds and name in thresholds:
            ax.axvline(thresholds[name], color="k", lw=1, ls="--", label=f"threshold {thresholds[name]:.2f}")
        ax.set(xlim=(0, 1), xlabel="P(fake)", ylabel="items", title=name)
        _integer_ticks(ax)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    return _finish(fig, path)


def robustness_plot(param: str, curves: Mapping[str, Sequence[tuple[float, float | None]]],
                    path: PathLike | None = None, baselines: Mapping[str, float | None] | None = None,
                    title: str | None = None) -> Path | bytes:
    """AUC against one perturbation parameter, one line per model; dashed line = unperturbed AUC."""
    fig, axes = _figure()
    ax = axes[0, 0]
    from matplotlib import rcParams

    colors = rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, pts) in enumerate(curves.items()):
        color = colors[k % len(colors)]
        good = sorted((float(x), float(a)) for x, a in pts if a is not None)
        if good:
            xs, ys = zip(*good, strict=True)
            ax.plot(xs, ys, marker="o", lw=1.8, color=color, label=name)
        if baselines and baselines.get(name) is not None:
            ax.axhline(baselines[name], color=color, lw=1, ls=":", label=f"{name} unperturbed")
    ax.axhline(0.5, color="0.7", lw=1, ls="--", label="chance")
    ax.set(ylim=(0.0, 1.02), xlabel=param, ylabel="ROC AUC", title=title or f"Robustness to {param}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def timeline(series: Mapping[str, Sequence[tuple[int, float]]], path: PathLike | None = None,
             threshold: float | None = None, fps: float | None = None, ylabel: str = "P(fake)",
             title: str = "Per-frame scores", ylim: tuple[float, float] | None = (0.0, 1.0)) -> Path | bytes:
    """Per-frame score lines (one per analyzer); x in seconds when ``fps`` is known."""
    fig, axes = _figure(8.0, 3.2)
    ax = axes[0, 0]
    for name, pts in series.items():
        if not len(pts):
            continue
        arr = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        x = arr[:, 0] / fps if fps else arr[:, 0]
        ax.plot(x, arr[:, 1], lw=1.3, label=name)
    if threshold is not None:
        ax.axhline(threshold, color="k", lw=1, ls="--", label=f"threshold {threshold:.2f}")
    ax.set(xlabel="time (s)" if fps else "frame", ylabel=ylabel, title=title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if series:
        ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def ear_curve(ear: Sequence[tuple[int, float]], events: Sequence[Mapping[str, int] | tuple[int, int]],
              path: PathLike | None = None, threshold: float | None = None, fps: float | None = None,
              title: str = "Eye aspect ratio and detected blinks") -> Path | bytes:
    """EAR per frame with detected blink events shaded, so a reader can check each blink."""
    fig, axes = _figure(8.0, 3.2)
    ax = axes[0, 0]
    scale = 1.0 / fps if fps else 1.0
    if len(ear):
        arr = np.asarray(ear, dtype=np.float64).reshape(-1, 2)
        ax.plot(arr[:, 0] * scale, arr[:, 1], lw=1.2, color="tab:blue", label="EAR")
    for k, ev in enumerate(events):
        start, end = (ev["start_frame"], ev["end_frame"]) if isinstance(ev, Mapping) else ev
        ax.axvspan(start * scale, (end + 1) * scale, color="tab:orange", alpha=0.3,
                   label="blink" if k == 0 else None)
    if threshold is not None:
        ax.axhline(threshold, color="k", lw=1, ls="--", label=f"closed below {threshold:.2f}")
    ax.set(xlabel="time (s)" if fps else "frame", ylabel="EAR", title=f"{title} ({len(events)} blinks)")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    return _finish(fig, path)


def pulse_plot(signals: Mapping[str, Any], spectra: Mapping[str, Any], bpm: float | None = None,
               path: PathLike | None = None, title: str = "Skin colour pulse per region") -> Path | bytes:
    """Band-passed pulse signal of each skin region over time (left) and its spectrum (right).

    A real face shows the same beat in every region, in step; a swapped face shows regions that
    disagree or no clear peak. ``signals`` holds ``t0`` and ``fs`` plus one unit-variance series per
    region; ``spectra`` holds ``freq_hz`` plus one peak-normalised power series per region, as the
    pulse analyzer writes them. The estimated pulse, when one was found, is marked.
    """
    names = [n for n in ("face", "forehead", "left_cheek", "right_cheek", "neck") if n in signals]
    fig, axes = _figure(10.0, 1.0 + 0.9 * max(len(names), 1), max(len(names), 1), 2,
                        gridspec_kw={"width_ratios": [2.2, 1]}, top=1 - 0.45 / (1.0 + 0.9 * max(len(names), 1)))
    fig.subplots_adjust(hspace=0.15)
    fs, t0 = float(signals.get("fs", 1.0)), float(signals.get("t0", 0.0))
    freq = np.asarray(spectra.get("freq_hz", []), np.float64) * 60.0
    from matplotlib import rcParams

    colors = rcParams["axes.prop_cycle"].by_key()["color"]
    for k, name in enumerate(names or ["(no signal)"]):
        ax, axs = axes[k, 0], axes[k, 1]
        color = colors[k % len(colors)]
        if name in signals:
            y = np.asarray(signals[name], np.float64)
            ax.plot(t0 + np.arange(len(y)) / fs, y, lw=0.9, color=color)
        ax.set_ylabel(name.replace("_", " "), fontsize=8)
        ax.set_yticks([])
        ax.grid(alpha=0.3)
        if name in spectra and len(freq):
            axs.plot(freq, np.asarray(spectra[name], np.float64), lw=1.2, color=color)
        if bpm is not None:
            axs.axvline(bpm, color="k", lw=1, ls="--", label=f"{bpm:.0f} bpm" if k == 0 else None)
        axs.axvspan(42, 240, color="0.9", zorder=0)
        axs.set_xlim(30, 270)
        axs.set_yticks([])
        axs.grid(alpha=0.3)
        if k < len(names) - 1:
            ax.set_xticklabels([])
            axs.set_xticklabels([])
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("beats per minute (shaded: pass band)")
    axes[0, 0].set_title("band-passed colour signal", fontsize=9)
    axes[0, 1].set_title("power spectrum", fontsize=9)
    if bpm is not None:
        axes[0, 1].legend(fontsize=7, loc="upper right")
    fig.suptitle(title + (f": pulse {bpm:.0f} bpm" if bpm is not None else ": no consistent pulse found"))
    return _finish(fig, path)


def avsync_plot(curves: Mapping[str, Sequence[float]], lag_curve: Sequence[tuple[float, float]],
                lag_ms: float | None, disagreeing: Sequence[Sequence[float]] = (),
                plausible_s: tuple[float, float] | None = None, path: PathLike | None = None,
                title: str = "Mouth and speech") -> Path | bytes:
    """Mouth opening and speech loudness over time (left; windows that disagree shaded) and their
    correlation at every lag (right; the best lag marked, the range a genuine clip falls in shaded),
    so a reader sees whether the mouth moves with the words and how far the sound is shifted."""
    fig, axes = _figure(10.0, 3.2, 1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    ax, axl = axes[0, 0], axes[0, 1]
    t = np.asarray(curves.get("t", []), np.float64)
    for key, label, color in (("mouth", "mouth opening", "tab:red"), ("audio", "speech loudness", "tab:blue")):
        y = np.asarray(curves.get(key, []), np.float64)
        if len(y) and len(y) == len(t):
            ax.plot(t, (y - y.mean()) / (y.std() or 1.0), lw=1.0, color=color, label=label)
    for k, (a, b) in enumerate(disagreeing):
        ax.axvspan(a, b, color="tab:orange", alpha=0.25, label="disagreeing window" if k == 0 else None)
    ax.set(xlabel="time (s)", ylabel="standardised", title=title)
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    if len(lag_curve):
        arr = np.asarray(lag_curve, np.float64).reshape(-1, 2)
        axl.plot(arr[:, 0] * 1000.0, arr[:, 1], lw=1.2, color="k")
    if plausible_s is not None:
        axl.axvspan(plausible_s[0] * 1000.0, plausible_s[1] * 1000.0, color="0.88", zorder=0, label="genuine range")
    if lag_ms is not None:
        axl.axvline(lag_ms, color="tab:red", ls="--", lw=1, label=f"best lag {lag_ms:+.0f} ms")
    axl.set(xlabel="sound after mouth (ms)", ylabel="correlation", title="correlation by lag")
    axl.legend(fontsize=7, loc="lower right")
    axl.grid(alpha=0.3)
    return _finish(fig, path)
