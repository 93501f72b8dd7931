"""What each fake method does, at a glance: per-item preview pairs and the test set's contact sheet.

Every fake item leaves ``previews/ITEM.png``: the input face and the fake face, cropped from the
same frame-space box, before perturbation and encoding, so their difference is the method's
doing and nothing else. ``contact_sheet.png`` shows one strip per method: input
crop, fake crop and their absolute difference amplified :data:`DIFF_GAIN` times, one row per method.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fakescope.core.atomicio import write_png_atomic

PREVIEW_SIZE = 160
DIFF_GAIN = 4.0
LABEL_H = 22


def crop_box(landmarks: Sequence[np.ndarray], shape: tuple[int, ...], margin: float = 0.35) -> tuple[int, int, int, int]:
    """Square box (x0, y0, x1, y1) around every given face, grown by ``margin``, inside the frame."""
    pts = np.concatenate([np.asarray(lm, np.float64).reshape(-1, 2) for lm in landmarks])
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = shape[:2]
    side = min(side, w, h)
    bx0 = int(round(min(max(cx - side / 2, 0), w - side)))
    by0 = int(round(min(max(cy - side / 2, 0), h - side)))
    return bx0, by0, bx0 + int(side), by0 + int(side)


def preview_pair(source: np.ndarray, fake: np.ndarray, lm_in: np.ndarray | None, lm_out: np.ndarray | None) -> np.ndarray:
    """[input crop | fake crop] of one frame, both from the same box around both faces."""
    faces = [lm for lm in (lm_in, lm_out) if lm is not None]
    h, w = source.shape[:2]
    box = crop_box(faces, source.shape) if faces else (0, 0, min(h, w), min(h, w))
    x0, y0, x1, y1 = box
    s = PREVIEW_SIZE
    a = cv2.resize(source[y0:y1, x0:x1], (s, s), interpolation=cv2.INTER_AREA)
    b = cv2.resize(fake[y0:y1, x0:x1], (s, s), interpolation=cv2.INTER_AREA)
    return np.hstack([a, b])


def _label(img: np.ndarray, text: str) -> np.ndarray:
    bar = np.zeros((LABEL_H, img.shape[1], 3), np.uint8)
    cv2.putText(bar, text, (4, LABEL_H - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([bar, img])


def strip(pair: np.ndarray, method: str, item: str) -> np.ndarray:
    """One method's strip: input, fake, amplified |fake - input|, each labelled."""
    s = pair.shape[0]
    a, b = pair[:, :s], pair[:, s:2 * s]
    diff = np.clip(np.abs(a.astype(np.float32) - b.astype(np.float32)) * DIFF_GAIN, 0, 255).astype(np.uint8)
    cells = [_label(a, "input"), _label(b, f"{method}"), _label(diff, f"|diff| x{DIFF_GAIN:g}")]
    row = np.hstack(cells)
    return _label(row, item[-48:])


def write_contact_sheet(out_dir: Path, methods: Sequence[str]) -> Path | None:
    """``out_dir/contact_sheet.png``: one strip per fake method that has an item with a preview
    (the first such item in name order); None when no method has one."""
    out_dir = Path(out_dir)
    by_method: dict[str, Path] = {}
    for sidecar in sorted((out_dir / "items").glob("*.json")):
        row = json.loads(sidecar.read_text())
        preview = out_dir / "previews" / f"{sidecar.stem}.png"
        if row.get("label") == "fake" and row["method"] not in by_method and preview.exists():
            by_method[row["method"]] = preview
    order = [m for m in methods if m in by_method] + sorted(m for m in by_method if m not in methods)
    strips = []
    for m in order:
        pair = cv2.imread(str(by_method[m]), cv2.IMREAD_COLOR)
        if pair is not None:
            strips.append(strip(pair, m, by_method[m].stem))
    if not strips:
        return None
    width = max(s.shape[1] for s in strips)
    sheet = np.vstack([np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in strips])
    return write_png_atomic(out_dir / "contact_sheet.png", sheet)
