"""Training curves PNG, so a run can be judged (over-fitting, plateau) without re-running it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from fakescope.core.atomicio import write_bytes_atomic


def plot_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> None:
    """Loss and validation AUC per epoch; written atomically."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state, no GUI

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(9, 3.5))
    ax_loss, ax_auc = fig.subplots(1, 2)
    for key, label in (("train_loss", "train loss"), ("val_loss", "val loss")):
        ax_loss.plot(epochs, [h[key] for h in history], marker="o", label=label)
    for key, label in (("val_frame_auc", "val frame AUC"), ("val_video_auc", "val video AUC")):
        ax_auc.plot(epochs, [h[key] for h in history], marker="o", label=label)
    methods = sorted({m for h in history for m in h.get("val_method_auc") or {}})
    for m in methods:  # thin lines: which fake family each epoch knows, and which one it misses
        ax_auc.plot(epochs, [(h.get("val_method_auc") or {}).get(m) for h in history], linewidth=0.8, alpha=0.6,
                    linestyle="--", label=m)
    ax_loss.set_xlabel("epoch")
    ax_auc.set_xlabel("epoch")
    ax_auc.set_ylim(0.4, 1.01)
    ax_loss.legend()
    ax_auc.legend(fontsize="small" if methods else None)
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    write_bytes_atomic(path, buf.getvalue())
