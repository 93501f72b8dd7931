"""Scorers that audit exactly what `fakescope scan` reports.

One scan per (video, detector) feeds several scorers: the fused verdict and every analyzer are
read from the same verdict record, so auditing five analyzers costs one pass over each video.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope.audit.scores import ItemScore, item_score_from_verdict
from fakescope.scan.analyzers import ANALYZER_FACTORIES
from fakescope.scan.pipeline import ScanConfig, scan_video

# The analyzers of the audited scan: all but content credentials. Every fake of our own test sets
# carries a C2PA manifest and our watermark (DESIGN "Labelled output"), so with them the fused
# verdict would measure our labels, not how well fakes are detected.
AUDITED_ANALYZERS = tuple(name for name in ANALYZER_FACTORIES if name != "credentials")


class ScanMemo:
    """Verdict records keyed by (file, detector); small, because records hold only numbers."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str, tuple[str, ...] | None], dict[str, Any]] = {}

    def record(self, path: Path, detector: str, analyzers: tuple[str, ...] | None) -> dict[str, Any]:
        key = (str(Path(path).resolve()), detector, analyzers)
        if key not in self._records:
            cfg = ScanConfig(detector=detector, analyzers=analyzers, progress=False)
            self._records[key] = scan_video(path, cfg).record
        return self._records[key]


@dataclass
class VerdictScorer:
    """Scores a video by one analyzer of the scan (``analyzer=None``: the fused verdict)."""

    memo: ScanMemo
    detector: str
    analyzer: str | None
    analyzers: tuple[str, ...] | None = None
    cache_key: str | None = None

    def __call__(self, path: Path) -> ItemScore:
        rec = self.memo.record(path, self.detector, self.analyzers)
        return item_score_from_verdict(rec, self.analyzer)


def detector_hash(name: str) -> str | None:
    try:
        from detector.io import load_model

        return load_model(name).sha256
    except (ImportError, ValueError, LookupError, FileNotFoundError):
        return None


def build_scorers(detectors: list[str], include_analyzers: bool = True) -> dict[str, VerdictScorer]:
    """``detector:<name>`` per detector; plus blink, edges, spectrum, temporal, avsync and the fused verdict of the first
    (scanned without content credentials: see AUDITED_ANALYZERS)."""
    memo = ScanMemo()
    scorers: dict[str, VerdictScorer] = {}
    for name in detectors:
        key = detector_hash(name)
        scorers[f"detector:{Path(name).name}"] = VerdictScorer(memo, name, "detector", ("detector",), key)
    if include_analyzers:
        first = detectors[0]
        key = detector_hash(first)
        for analyzer in ("blink", "edges", "spectrum", "temporal", "avsync"):
            scorers[analyzer] = VerdictScorer(memo, first, analyzer, AUDITED_ANALYZERS, key)
        scorers["fused"] = VerdictScorer(memo, first, None, AUDITED_ANALYZERS, key)
    return scorers
