"""Turn a track's evidence into one verdict.

Until a fitted fusion model is shipped (detector/weights/default/fusion.json), the fallback is a
documented rule: the reliability-weighted mean of the ``ok`` scores. ``insufficient`` evidence is
dropped entirely, so it can never push a verdict towards fake. The probability is labelled
``fake`` above ``FAKE_THRESHOLD``, ``real`` below ``REAL_THRESHOLD`` and ``inconclusive`` between.
"""

from __future__ import annotations

from collections.abc import Sequence

from fakescope.types import Evidence, Verdict

FAKE_THRESHOLD = 0.65
REAL_THRESHOLD = 0.35

# Prior reliability of each analyzer when no fitted fusion model exists: the trained detector is
# the strongest single signal; physiological cues are weak on short clips.
DEFAULT_WEIGHTS = {"detector": 3.0, "edges": 1.5, "spectrum": 1.0, "blink": 0.5, "pulse": 0.5, "provenance": 4.0}


def label_for(p: float) -> str:
    if p >= FAKE_THRESHOLD:
        return "fake"
    if p <= REAL_THRESHOLD:
        return "real"
    return "inconclusive"


def fuse(evidence: Sequence[Evidence]) -> Verdict:
    ok = [e for e in evidence if e.status == "ok"]
    if not ok:
        return Verdict("inconclusive", 0.5, tuple(evidence), reason="every analyzer reported insufficient evidence")
    weights = [DEFAULT_WEIGHTS.get(e.analyzer, 1.0) for e in ok]
    p = sum(w * e.score for w, e in zip(weights, ok, strict=True)) / sum(weights)
    label = label_for(p)
    reason = "" if label != "inconclusive" else f"fused probability {p:.2f} lies between {REAL_THRESHOLD} and {FAKE_THRESHOLD}"
    return Verdict(label, float(p), tuple(evidence), reason=reason)  # type: ignore[arg-type]
