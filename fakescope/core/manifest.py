"""The test-set manifest (DESIGN.md): column names, method names, and the one reader and writer.

Every stage reads ``DIR/manifest.csv`` through here (the test-set builder, detector training,
forensic training, fusion fitting, audits, the dashboard), so a column or a method name has one
spelling. Audits also accept any user CSV with ``path,label``; ``read_rows`` takes those too
(comma, tab or semicolon separated, header case-insensitive).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from fakescope.core.atomicio import write_text_atomic

MANIFEST_FILE = "manifest.csv"
# DESIGN.md's columns first (in that order), then what detectors read: stored crops and where the
# segment starts in its source.
REQUIRED_COLUMNS = ("path", "label", "source", "identity", "method", "params", "seed", "split", "sha256")
MANIFEST_COLUMNS = (*REQUIRED_COLUMNS, "crops", "source_start_frame", "frames")
LABELS = ("real", "fake")
SPLITS = ("train", "val", "test")

# How an item was made (``method``). Reals taken from a video have method "real"; still photos of
# extra identities (testset photos) have "photo".
REAL_METHOD = "real"
PHOTO_METHOD = "photo"
FAKE_METHODS = ("ae_swap", "ae_gan_swap", "self_blend", "warp", "ae_recon", "reenact", "animate")
ATTACK_METHODS = ("fgsm", "pgd")


class ManifestRow(TypedDict, total=False):
    """One manifest row as read: every value is text (``params`` is a JSON object string).

    A TypedDict, not a class of its own, so rows stay plain dicts for csv and for user CSVs that
    carry only ``path,label``."""

    path: str
    label: str  # LABELS
    source: str
    identity: str
    method: str  # REAL_METHOD, PHOTO_METHOD, FAKE_METHODS or ATTACK_METHODS
    params: str
    seed: str
    split: str  # SPLITS
    sha256: str
    crops: str  # crops/<item>.npz: aligned face crops, masks and frame indices
    source_start_frame: str
    frames: str


def manifest_path(dir_or_csv: str | Path) -> Path:
    """``DIR/manifest.csv`` for a test-set directory, the path itself for a CSV file."""
    p = Path(dir_or_csv)
    return p / MANIFEST_FILE if p.is_dir() else p


def read_rows(csv_path: str | Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(lower-cased header, [(line number, row)]) of any CSV with a header; values stripped.

    Raises UnicodeDecodeError / csv.Error for files that are not UTF-8 CSV (callers say which)."""
    text = Path(csv_path).read_text(encoding="utf-8-sig")
    first = text.splitlines()[0] if text else ""
    delimiter = max(",\t;", key=first.count) if first else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows = []
    for raw in reader:
        row = {k: (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items() if k is not None}
        rows.append((reader.line_num, row))
    return header, rows


def read_manifest(dir_or_csv: str | Path, require: Sequence[str] = ("path", "label")) -> list[ManifestRow]:
    """The rows of a test set's manifest (a directory or the CSV itself), as dicts of text.

    Raises ValueError naming the file when it is missing or lacks a ``require``d column."""
    path = manifest_path(dir_or_csv)
    if not path.is_file():
        where = f"{dir_or_csv} holds no {MANIFEST_FILE}" if Path(dir_or_csv).is_dir() else f"{path} does not exist"
        raise ValueError(f"{where}; pass a directory made by 'fakescope testset build'")
    header, rows = read_rows(path)
    missing = [c for c in require if c not in header]
    if missing:
        raise ValueError(f"{path} lacks column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}")
    return [ManifestRow(**row) for _, row in rows]  # type: ignore[typeddict-item]


def write_manifest(out_dir: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """``out_dir/manifest.csv`` with MANIFEST_COLUMNS, written atomically; other keys are left out."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(MANIFEST_COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text_atomic(Path(out_dir) / MANIFEST_FILE, buf.getvalue())
