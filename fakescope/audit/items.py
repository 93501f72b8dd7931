"""Audit inputs: labelled videos from test-set manifests or any user CSV, and what their params mean.

A bad row never stops an audit: it becomes an ``AuditRowError`` naming the CSV line and the
reason, and the row is skipped. Nothing in a CSV is executed or interpreted beyond text: paths
are resolved and must be existing regular files (checked to be videos by magic bytes and one
decoded frame), ``params`` is parsed as JSON data only.

A video listed more than once (the same resolved path, or identical bytes under another path)
is never silently resolved: with the same label it is audited once and every repeat gets a
note (``severity="note"``); with conflicting labels every one of its rows becomes an error
naming all the lines, and the video is left out of the audit.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakescope.core.errors import one_line
from fakescope.core.hashing import sha256_file
from fakescope.core.manifest import ATTACK_METHODS, manifest_path, read_rows

__all__ = ["ROBUSTNESS_KEYS", "AuditRowError", "Item", "attack_info", "load_items", "one_line", "perturbations"]

ROBUSTNESS_KEYS = ("jpeg_quality", "blur_sigma", "resize", "crf", "noise_sigma", "gamma", "brightness")

# params spellings accepted for each perturbation (the test-set builder and user CSVs differ)
_PERTURBATION_ALIASES = {
    "jpeg_quality": "jpeg_quality", "jpeg": "jpeg_quality", "jpeg_q": "jpeg_quality",
    "blur_sigma": "blur_sigma", "blur": "blur_sigma", "gaussian_blur": "blur_sigma",
    "resize": "resize", "resize_factor": "resize",
    "crf": "crf", "h264_crf": "crf",
    "noise_sigma": "noise_sigma", "noise": "noise_sigma", "gaussian_noise": "noise_sigma",
    "gamma": "gamma", "brightness": "brightness",
}
_PERTURBATION_CONTAINERS = ("perturb", "perturbation", "perturbations")
_OP_KEYS = ("op", "type", "kind", "name")
# settings that leave the video as it is (CRF 18 is the test-set builder's visually lossless default)
_NEUTRAL = {"crf": 18.0, "resize": 1.0, "blur_sigma": 0.0, "noise_sigma": 0.0, "gamma": 1.0}
_PAIR_KEYS = ("clean_sha256", "base_sha256", "source_sha256", "attacked_from", "clean_path", "base_path")

# leading bytes of containers OpenCV/FFmpeg read; the check rejects text/images renamed .mp4
_VIDEO_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "MP4/MOV"),
    (4, b"moov", "MOV"),
    (4, b"mdat", "MOV"),
    (4, b"wide", "MOV"),
    (4, b"free", "MOV"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"FLV", "FLV"),
    (0, b"OggS", "Ogg"),
    (0, b"\x00\x00\x01\xba", "MPEG-PS"),
    (0, b"\x00\x00\x01\xb3", "MPEG-1/2 video"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "ASF/WMV"),
)


# ----------------------------------------------------------------------------- input


@dataclass(frozen=True)
class AuditRowError:
    """One CSV row that was skipped. ``row_number`` is the 1-based line in the CSV (header = 1; 0 = whole file).

    ``severity`` is ``"error"`` when the row's video is missing from the audit because of it, ``"note"``
    when nothing was lost (a repeat of a row with the same video and label: counted once).
    ``str()`` is one line: control characters in paths and reasons are escaped (``one_line``).
    """

    source: str
    row_number: int
    path: str
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        where = one_line(self.source) + (f" line {self.row_number}" if self.row_number else "")
        return f"{where}: {one_line(self.path) if self.path else '(no path)'}: {one_line(self.reason)}"

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "row_number": self.row_number, "path": self.path, "reason": self.reason,
                "severity": self.severity}


@dataclass(frozen=True)
class Item:
    """One labelled video to audit. ``label`` is 'real' or 'fake'; ``sha256`` is of the file's bytes."""

    path: Path
    label: str
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    identity: str = ""
    split: str = ""
    sha256: str = ""
    source: str = ""
    row_number: int = 0

    @property
    def y(self) -> int:
        return 1 if self.label == "fake" else 0


def _parse_label(text: str) -> str | None:
    t = text.strip().lower()
    if t in ("real", "0"):
        return "real"
    if t in ("fake", "1"):
        return "fake"
    return None


def _video_problem(path: Path) -> str | None:
    """Why ``path`` is not a decodable video, or None. Cheap magic check first, then one frame."""
    with path.open("rb") as fh:
        head = fh.read(64)
    if not head:
        return "empty file (0 bytes)"
    known = any(head[off:off + len(magic)] == magic for off, magic, _ in _VIDEO_MAGIC)
    riff_avi = head[:4] == b"RIFF" and head[8:12] == b"AVI "
    mpeg_ts = head[:1] == b"\x47" and path.stat().st_size >= 189 and _byte_at(path, 188) == b"\x47"
    if not (known or riff_avi or mpeg_ts):
        preview = head[:16]
        return (f"not a video file (starts with {preview!r}; expected an MP4/MOV/AVI/MKV/WebM container) "
                "- check that the path points at the video, not a text or image file")
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return "video container recognised but OpenCV cannot open it (corrupt or unsupported codec)"
        ok, frame = cap.read()
        if not ok or frame is None:
            return "video opens but no frame can be decoded (truncated or unsupported codec)"
    finally:
        cap.release()
    return None


def _byte_at(path: Path, offset: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(1)


def load_items(sources: Sequence[str | Path]) -> tuple[list[Item], list[AuditRowError]]:
    """Read test-set dirs (``DIR/manifest.csv``) and/or CSV files with at least ``path,label``.

    Paths are relative to the CSV's folder (absolute paths work too; ``..`` is allowed as long
    as it resolves to an existing regular file). Labels: real|fake or 0|1. Optional columns:
    method, params (JSON object), identity, split, sha256 (checked against the file). Every
    problem with a row becomes an ``AuditRowError`` naming the CSV and line, and the row is
    skipped; problems with a whole source (missing, no path/label columns) get row_number 0.

    A video listed more than once, across all sources (same resolved path, or same SHA-256 under
    another path): with one label it is audited once, from its first row, and each repeat gets a
    ``severity="note"`` record; with conflicting labels each of its rows gets an error naming
    every line and its label, and the video is not audited at all (no label is picked for it).
    Errors come back in source order, then line order.
    """
    errors: list[tuple[tuple[int, int], AuditRowError]] = []
    candidates: list[tuple[Item, str]] = []  # (item, path as written in the CSV), in input order
    by_path: dict[Path, Item] = {}  # first usable row of each resolved path: its video check and hash are reused
    order: dict[str, int] = {}
    for k, src in enumerate(sources):
        src_path = Path(src)
        csv_path = manifest_path(src_path)
        if not csv_path.is_file():
            reason = ("test-set directory has no manifest.csv" if src_path.is_dir()
                      else "not found: pass a test-set directory or a CSV file with path,label columns")
            errors.append(((k, 0), AuditRowError(str(src_path), 0, "", reason)))
            continue
        try:
            header, rows = read_rows(csv_path)
        except (UnicodeDecodeError, csv.Error) as exc:
            errors.append(((k, 0), AuditRowError(str(csv_path), 0, "", f"cannot read as UTF-8 CSV: {exc}")))
            continue
        missing_cols = [c for c in ("path", "label") if c not in header]
        if missing_cols:
            errors.append(((k, 0), AuditRowError(
                str(csv_path), 0, "",
                f"CSV needs columns path,label (missing {','.join(missing_cols)}; found {','.join(header) or 'none'})")))
            continue
        order.setdefault(str(csv_path), k)
        base = csv_path.resolve().parent
        for line, row in rows:
            item, reasons = _parse_row(row, base, str(csv_path), line, by_path)
            if reasons:
                errors.append(((k, line), AuditRowError(str(csv_path), line, row.get("path", ""), "; ".join(reasons))))
            elif item is not None:
                candidates.append((item, row.get("path", "")))
                by_path.setdefault(item.path, item)
    items, repeats = _resolve_repeats(candidates)
    errors += [((order.get(e.source, len(order)), e.row_number), e) for e in repeats]
    errors.sort(key=lambda ke: ke[0])  # stable: a row's own errors keep their order
    return items, [e for _, e in errors]


def _resolve_repeats(candidates: Sequence[tuple[Item, str]]) -> tuple[list[Item], list[AuditRowError]]:
    """Items to audit (each video once, conflicting ones left out) and an error or note per repeated row."""
    groups: dict[str, list[tuple[Item, str]]] = {}
    for item, raw in candidates:
        groups.setdefault(item.sha256, []).append((item, raw))
    items: list[Item] = []
    records: list[AuditRowError] = []
    for item, raw in candidates:
        group = groups[item.sha256]
        if len(group) == 1:
            items.append(item)
            continue
        same_path = all(g.path == item.path for g, _ in group)
        if len({g.label for g, _ in group}) > 1:
            what = "the same file" if same_path else f"identical files (sha256 {item.sha256[:12]}...)"
            listing = ", ".join(f"{_line_of(g, graw, item, same_path)} says {g.label}" for g, graw in group)
            records.append(AuditRowError(item.source, item.row_number, raw,
                                         f"conflicting labels for {what}: {listing}; left out of the audit "
                                         "(fix the label in the CSV)"))
        elif group[0][0] is item:
            items.append(item)
        else:
            first, first_raw = group[0]
            if first.path == item.path:
                reason = f"same file already listed at {_line_of(first, first_raw, item, True)} with the same label"
            else:
                reason = (f"identical to {_line_of(first, first_raw, item, False)} (same sha256 "
                          f"{item.sha256[:12]}..., same label)")
            records.append(AuditRowError(item.source, item.row_number, raw, f"{reason}; counted once",
                                         severity="note"))
    return items, records


def _line_of(other: Item, other_raw: str, here: Item, same_path: bool) -> str:
    """How a row names another row: ``line 3``, ``other.csv line 3``, plus its path when that differs."""
    where = f"line {other.row_number}" if other.source == here.source else f"{other.source} line {other.row_number}"
    return where if same_path else f"{where} ({other_raw or other.path})"


def _parse_row(row: dict[str, str], base: Path, source: str, line: int,
               by_path: Mapping[Path, Item]) -> tuple[Item | None, list[str]]:
    reasons: list[str] = []
    raw_path = row.get("path", "")
    label = _parse_label(row.get("label", ""))
    if label is None:
        reasons.append(f"bad label {row.get('label', '')!r}: use real|fake or 0|1")
    params: dict[str, Any] = {}
    if row.get("params"):
        try:
            params = json.loads(row["params"])
        except json.JSONDecodeError as exc:
            reasons.append(f"params is not valid JSON ({exc.msg} at char {exc.pos})")
        else:
            if not isinstance(params, dict):
                reasons.append("params must be a JSON object like {\"jpeg_quality\": 50}")
                params = {}
    resolved: Path | None = None
    if not raw_path:
        reasons.append("empty path")
    else:
        candidate = Path(raw_path).expanduser()
        candidate = candidate if candidate.is_absolute() else base / candidate
        try:
            resolved = candidate.resolve(strict=True)
        except (FileNotFoundError, RuntimeError, OSError):
            reasons.append(f"file not found (looked for {candidate})")
        else:
            if not resolved.is_file():
                reasons.append(f"not a regular file ({resolved})")
                resolved = None
    earlier = by_path.get(resolved) if resolved is not None else None
    if resolved is not None and not reasons and earlier is None:
        problem = _video_problem(resolved)
        if problem:
            reasons.append(problem)
    if reasons or resolved is None or label is None:
        return None, reasons
    sha = earlier.sha256 if earlier is not None else sha256_file(resolved)
    listed = row.get("sha256", "").lower()
    if listed and listed != sha:
        return None, [f"sha256 mismatch: CSV says {listed[:12]}..., file is {sha[:12]}... (file changed since listing)"]
    return Item(path=resolved, label=label, method=row.get("method", ""), params=params,
                identity=row.get("identity", ""), split=row.get("split", ""), sha256=sha,
                source=source, row_number=line), []


# ----------------------------------------------------------------------------- params


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def perturbations(params: Mapping[str, Any]) -> dict[str, float]:
    """Canonical perturbation knobs of an item: jpeg_quality, blur_sigma, resize, crf, noise_sigma,
    gamma, brightness.

    Where to look: if ``params`` has a ``perturb``/``perturbation``/``perturbations`` entry only
    that subtree is read (a dict, or an op list like ``[{"op": "jpeg", "quality": 50}]``), so a
    method's own knobs (e.g. the warp fake's internal blur) are never mistaken for a
    perturbation. Otherwise the top-level keys are read (the flat layout of the test-set
    manifest). Null/non-numeric values and neutral settings (CRF 18, which every test-set clip
    is encoded with, resize 1, blur/noise 0, gamma 1) mean "not applied".
    """
    container = next((params[k] for k in _PERTURBATION_CONTAINERS if k in params), None)
    found: dict[str, float] = {}

    def add(key: str, raw: Any) -> None:
        canon = _PERTURBATION_ALIASES.get(key.lower())
        value = _num(raw)
        if canon and value is not None and value != _NEUTRAL.get(canon):
            found.setdefault(canon, value)

    def walk(obj: Any) -> None:
        if isinstance(obj, Mapping):
            op = next((obj[k] for k in _OP_KEYS if isinstance(obj.get(k), str)), None)
            if op and op.lower() in _PERTURBATION_ALIASES:
                values = [v for k, v in obj.items() if k not in _OP_KEYS and _num(v) is not None]
                if len(values) == 1:
                    add(op, values[0])
                return
            for k, v in obj.items():
                if isinstance(v, Mapping | list):
                    walk(v)
                else:
                    add(str(k), v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    if container is not None:
        walk(container)
    else:
        for k, v in params.items():
            add(str(k), v)
    return found


def attack_info(item: Item) -> dict[str, Any] | None:
    """Attack description if the item's method or params show an adversarial attack, else None."""
    p = item.params
    method = item.method.lower()
    attack = p.get("attack")
    if isinstance(attack, Mapping):
        nested = dict(attack)
        attack = nested.get("name") or nested.get("method") or nested.get("type")
        p = {**p, **nested}
    has_scores = "score_before" in p and "score_after" in p
    if not (method in ATTACK_METHODS or (attack not in (None, "", False)) or has_scores):
        return None
    name = str(attack).lower() if attack not in (None, "", False, True) else (method or "attack")
    eps = _num(p.get("epsilon", p.get("eps")))
    return {
        "attack": name,
        "epsilon": eps,
        "steps": _num(p.get("steps")),
        "detector": p.get("detector") or p.get("target") or p.get("target_detector"),
        "score_before": _num(p.get("score_before")),
        "score_after": _num(p.get("score_after")),
        "threshold": _num(p.get("threshold")),
        "pair": next((str(p[k]) for k in _PAIR_KEYS if p.get(k)), None),
    }
