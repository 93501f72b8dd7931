"""What a scorer says about one video, and how a scan verdict becomes that.

Kept apart from the audit run so that the metric aggregation (summary) and the scorers can both
use it without importing the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ItemScore:
    """What a scorer says about one video. Scores are P(fake); frame_scores are (frame_index, p)."""

    video_score: float
    frame_scores: tuple[tuple[int, float], ...] = ()
    status: str = "ok"
    threshold: float | None = None

    def __post_init__(self) -> None:
        v = float(self.video_score)
        if not (0.0 <= v <= 1.0):
            raise ValueError(f"video_score must be P(fake) in [0, 1], got {self.video_score!r}")
        frames = tuple((int(i), float(p)) for i, p in self.frame_scores)
        for i, p in frames:
            if not (0.0 <= p <= 1.0):
                raise ValueError(f"frame score at frame {i} must be in [0, 1], got {p!r}")
        if self.threshold is not None and not (0.0 <= float(self.threshold) <= 1.0):
            raise ValueError(f"threshold must be in [0, 1] or None, got {self.threshold!r}")
        object.__setattr__(self, "video_score", v)
        object.__setattr__(self, "frame_scores", frames)
        object.__setattr__(self, "threshold", None if self.threshold is None else float(self.threshold))

    def as_json(self) -> dict[str, Any]:
        return {"video_score": self.video_score, "frame_scores": [list(f) for f in self.frame_scores],
                "status": self.status, "threshold": self.threshold}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ItemScore:
        return cls(video_score=d["video_score"], frame_scores=tuple(tuple(f) for f in d.get("frame_scores", [])),
                   status=d.get("status", "ok"), threshold=d.get("threshold"))


Scorer = Callable[[Path], ItemScore]


def item_score_from_verdict(verdict: Mapping[str, Any], analyzer: str | None = None,
                            threshold: float | None = None) -> ItemScore:
    """ItemScore from a ``scan --json`` verdict object: the fused verdict or one analyzer.

    Lets one scan per video feed several scorers (fused verdict, detector, blink, edges) with
    the exact numbers a user would see. ``analyzer=None`` audits ``fake_probability``; an
    'inconclusive' verdict keeps its probability but is marked insufficient.
    """
    if analyzer is None:
        status = "insufficient" if verdict.get("verdict") == "inconclusive" else "ok"
        return ItemScore(float(verdict["fake_probability"]), (), status, threshold)
    analyzers = verdict.get("analyzers") or {}
    if analyzer not in analyzers:
        raise ValueError(f"verdict has no analyzer {analyzer!r} (present: {', '.join(analyzers) or 'none'})")
    a = analyzers[analyzer]
    frames = tuple((int(i), float(p)) for i, p in a.get("per_frame", []) or [])
    thr = a.get("threshold", threshold)
    return ItemScore(float(a["score"]), frames, str(a.get("status", "ok")), None if thr is None else float(thr))
