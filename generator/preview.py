"""Human-readable training progress: preview grids of faces and a loss plot.

Why fixed, unaugmented preview faces: the same faces at every preview make grids from different
times directly comparable, so a user can see whether swaps still improve or have stalled.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import cv2
import numpy as np
import torch

from fakescope.core.atomicio import write_bytes_atomic
from generator.faceset import FaceSet
from generator.models import FaceSwapModel, images_to_tensor, tensor_to_images

LABEL_WIDTH = 120
MIN_TILE = 96


def preview_indices(n_faces: int, samples: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_faces - 1, min(samples, n_faces)).round().astype(int))


@torch.no_grad()
def preview_grid(
    model: FaceSwapModel,
    facesets: dict[str, FaceSet],
    samples: int = 6,
    autocast: contextlib.AbstractContextManager | None = None,
) -> np.ndarray:
    """BGR grid: per identity a row of originals, their reconstructions, then a swap row per other identity."""
    model.eval()
    rows: list[tuple[str, np.ndarray]] = []
    names = model.identities
    with autocast or contextlib.nullcontext():
        for i, name in enumerate(names):
            fs = facesets[name]
            faces = fs.images[preview_indices(len(fs), samples)]
            code = model.encode(images_to_tensor(faces))
            rows.append((f"{name}", faces))
            rows.append((f"{name} recon", tensor_to_images(model.decode(code, i)[0])))
            for j, other in enumerate(names):
                if j != i:
                    rows.append((f"{name}>{other}", tensor_to_images(model.decode(code, j)[0])))
    model.train()
    size = rows[0][1].shape[1]
    tile = max(size, MIN_TILE)
    cols = max(r[1].shape[0] for r in rows)
    grid = np.full((tile * len(rows), LABEL_WIDTH + tile * cols, 3), 32, np.uint8)
    for r, (label, imgs) in enumerate(rows):
        y = r * tile
        cv2.putText(grid, label[:16], (4, y + tile // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1, cv2.LINE_AA)
        for c, img in enumerate(imgs):
            if tile != size:
                img = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_LINEAR)
            grid[y:y + tile, LABEL_WIDTH + c * tile:LABEL_WIDTH + (c + 1) * tile] = img
    return grid


def loss_plot_png(rows: list[dict[str, float]], title: str = "training losses") -> bytes:
    """PNG bytes of the loss curves; built on a private Figure so no global pyplot state is touched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    steps = [r["step"] for r in rows]
    for key in ("recon", "mask", "g_adv", "fm", "d"):
        vals = [r.get(key, 0.0) for r in rows]
        if any(v != 0.0 for v in vals):
            ax.plot(steps, vals, label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_loss_plot(path: Path, rows: list[dict[str, float]], title: str = "training losses") -> None:
    if rows:
        write_bytes_atomic(path, loss_plot_png(rows, title))
