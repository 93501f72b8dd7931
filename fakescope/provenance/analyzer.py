"""Provenance evidence: is the suspect a copy of a registered authentic video, and did its face change?

A match with an unchanged face is strong evidence of a real video (it is a copy of an original);
a match whose face differs in some segments is strong evidence of a face swap made from that
original. No match says nothing (most real videos were never registered), so it is reported
as ``insufficient`` and carries no weight in the verdict.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fakescope.core.analyzers import AnalyzerBase, AnalyzerNeeds, CropCache
from fakescope.core.types import Evidence, FaceObservation, KeyFrame, VideoInfo
from fakescope.provenance.fingerprint import Fingerprint, FingerprintBuilder, decode_thumbnail
from fakescope.provenance.registry import ProvenanceMatch, default_registry_path, find_original, registry_head

UNCHANGED_SCORE = 0.05  # a copy of a registered original with its face intact


def provenance_score(match: ProvenanceMatch) -> float:
    """P(fake) from a match: 0.85 for one changed segment, rising to 0.99 when half the video changed."""
    if not match.changed_segments:
        return UNCHANGED_SCORE
    return 0.85 + 0.14 * min(1.0, match.changed_fraction / 0.5)


def _labelled(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def side_by_side(suspect: np.ndarray, original: np.ndarray, left: str, right: str) -> np.ndarray:
    h = min(suspect.shape[0], original.shape[0])

    def fit(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, (max(1, round(img.shape[1] * h / img.shape[0])), h), interpolation=cv2.INTER_AREA)

    gap = np.full((h, 6, 3), 255, np.uint8)
    return np.hstack([_labelled(fit(suspect), left), gap, _labelled(fit(original), right)])


class ProvenanceAnalyzer(AnalyzerBase):
    name = "provenance"

    def __init__(self, registry: Path) -> None:
        self.registry = registry
        self._builder = FingerprintBuilder(thumbnails=True, thumb_every=2)
        self._tracks: set[int] = set()
        self._match: ProvenanceMatch | None = None
        self._fingerprint: Fingerprint | None = None
        self._duration = 0.0

    @property
    def needs(self) -> AnalyzerNeeds:
        return AnalyzerNeeds(faceless_frames=True)  # the background of every frame is fingerprinted

    def start(self, info: VideoInfo) -> None:
        self._builder = FingerprintBuilder(thumbnails=True, thumb_every=2)
        self._tracks = set()
        self._match = None
        self._fingerprint = None
        self._duration = info.duration_s

    def update(self, frame_index: int, timestamp: float, frame_bgr: np.ndarray, faces: list[FaceObservation],
               crops: CropCache) -> None:
        self._tracks.update(f.track_id for f in faces)
        self._builder.update(timestamp, frame_bgr, faces, frame_index)

    @property
    def model_hashes(self) -> dict[str, str]:
        """The registry's head hash: a rescan after new originals were registered is a different scan."""
        try:
            return {"provenance_registry": registry_head(self.registry)}
        except (ValueError, OSError, sqlite3.Error):
            return {}

    def finish(self) -> dict[int, Evidence]:
        """Only the largest face is fingerprinted, so only its track gets a verdict from the registry.

        Other tracks get ``insufficient``: an unchanged main face says nothing about a swapped face
        beside it. A face that differs only briefly (under one segment) is not called either way.
        """
        fp = self._builder.finish(self._duration)
        self._fingerprint = fp
        try:
            self._match = find_original(self.registry, fp)
        except (ValueError, OSError, sqlite3.Error) as exc:
            reason = f"registry unusable: {exc}"
            return {tid: Evidence(self.name, 0.5, "insufficient", {"match": None, "reason": reason})
                    for tid in sorted(self._tracks)}
        m = self._match
        if m is None:
            neutral = Evidence(self.name, 0.5, "insufficient",
                               {"match": None, "reason": "no registered original matches this video (neutral evidence)"})
            return {tid: neutral for tid in sorted(self._tracks)}
        counts = Counter(t for t in self._builder.track_ids if t is not None)
        compared = counts.most_common(1)[0][0] if counts else None
        details = {"match": m.as_json(), "compared_track": compared}
        if m.changed_segments or not m.changed_samples:
            ev = Evidence(self.name, provenance_score(m), "ok", details)
        else:
            ev = Evidence(self.name, 0.5, "insufficient",
                          {**details, "reason": "the face differs from the original only briefly (under 1.5 s)"})
        other = Evidence(self.name, 0.5, "insufficient",
                         {**details, "reason": "matched original, but only the largest face is compared"})
        return {tid: ev if tid == compared else other for tid in sorted(self._tracks)}

    def key_frames(self) -> list[KeyFrame]:
        """The suspect next to the registered original at the same moment (the middle of the first changed segment)."""
        m, fp = self._match, self._fingerprint
        if m is None or fp is None:
            return []
        orig = m.entry.fingerprint
        if not fp.thumbnails or not orig.thumbnails:
            return []
        if m.changed_segments:  # the middle of the first changed segment
            a, b = m.changed_segments[0]
            want = int((a + b) / 2 * fp.hz)
        else:
            want = len(fp) // 2
        # the original keeps fewer thumbnails: pick its one nearest the moment, then the suspect's at that moment
        j = min(orig.thumbnails, key=lambda k: abs(k - (want + m.shift)))
        i = min(fp.thumbnails, key=lambda k: abs(k - (j - m.shift)))
        img = side_by_side(decode_thumbnail(fp.thumbnails[i]), decode_thumbnail(orig.thumbnails[j]),
                           f"suspect {i / fp.hz:.1f} s", f"original {j / orig.hz:.1f} s")
        changed = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in m.changed_segments) or "none"
        caption = (f"Registered original '{m.entry.label}' ({m.entry.file_name}), offset {m.offset_s:+.2f} s; "
                   f"background similarity {m.background_similarity:.2f}; face differs in: {changed}.")
        frame_index = self._builder.frame_indices[i] if i < len(self._builder.frame_indices) else -1
        return [KeyFrame("provenance", frame_index, provenance_score(m), img, None, caption, None)]


def resolve_registry(config: object) -> Path:
    """The registry a scan uses: ``config.registry`` when given, else the per-user one if it exists.

    Raises LookupError (the analyzer is then left out, with the reason in the record) when there is
    none or the file is not a registry.
    """
    explicit = getattr(config, "registry", None)
    path = Path(explicit) if explicit is not None else default_registry_path()
    if not path.is_file():
        raise LookupError(f"registry {path} does not exist" if explicit is not None else
                          "no provenance registry configured (add originals with `fakescope registry add`)")
    try:
        registry_head(path)
    except (ValueError, sqlite3.Error) as exc:
        raise LookupError(str(exc)) from exc
    return path


def make_analyzer(config: object = None) -> ProvenanceAnalyzer:
    return ProvenanceAnalyzer(resolve_registry(config))


def register_videos(paths: list[Path], db: Path, label: str | None = None,
                    progress: bool = False) -> list[tuple[Path, Any, bool]]:
    """Fingerprint and append each video; returns (path, entry, added) per video, in order."""
    from fakescope.core.hashing import sha256_file
    from fakescope.provenance.fingerprint import fingerprint_video
    from fakescope.provenance.registry import add_entry

    out = []
    for p in paths:
        fp, info = fingerprint_video(str(p), progress=progress)
        entry, added = add_entry(db, fp, label=label or p.stem, file_name=p.name, file_sha256=sha256_file(p),
                                 video=info.as_json())
        out.append((p, entry, added))
    return out
