"""Turn a track's evidence into one verdict.

The fitted fusion model is a logistic regression over each analyzer's logit(score), fitted on the
validation split of our own test set (``fakescope fusion fit``) and shipped as JSON next
to the default detector (``detector/weights/default/fusion.json``). An analyzer whose status is
``insufficient`` contributes a feature of exactly 0 (the logit of 0.5): the model has no
per-analyzer offsets, so missing evidence can never push a verdict towards fake.

Without a fitted model, the fallback is the reliability-weighted mean of the ``ok`` scores.
Provenance is not part of either: no test set holds registered originals to fit it on, and a
match is near-proof either way. Its logit is added to the fused logit with the documented weight
``PROVENANCE_WEIGHT`` (an unmatched video is ``insufficient`` and changes nothing).
Content credentials (fakescope.provenance.credentials) are added the same way with
``CREDENTIALS_WEIGHT``: a valid manifest declaring AI generation or our watermark (score 0.99)
adds 3 x 4.6 logits, enough to turn a detector that is 99.99% sure of "real" into "fake"; a trusted
camera-capture manifest (0.1) subtracts 6.6. No manifest and no watermark is ``insufficient``
and leaves the probability exactly as it was.
Audio-visual sync (forensics.avsync) is added with ``AVSYNC_WEIGHT`` only when it points to a fake:
mouth and speech in step is what a face swap that keeps its audio also shows, so it must not
count for "real"; replaced or shifted audio adds up to 1 x 4.6 logits.

The probability is labelled ``fake`` at or above ``FAKE_THRESHOLD``, ``real`` at or below
``REAL_THRESHOLD`` and ``inconclusive`` in between.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fakescope.core.types import FAKE_THRESHOLD, REAL_THRESHOLD, Evidence, Verdict

DEFAULT_WEIGHTS = {"detector": 3.0, "edges": 1.5, "spectrum": 1.0, "blink": 0.5, "pulse": 0.5}
PROVENANCE_WEIGHT = 2.0  # a changed-face match (0.85+) outweighs a confident "real" from the other analyzers
CREDENTIALS_WEIGHT = 3.0  # a declared or watermarked fake is one even when every other analyzer says "real"
AVSYNC_WEIGHT = 1.0  # only ever towards fake: see ONE_SIDED
# Added to the fused logit with their weights, never part of the fitted model (no test set can fit them).
OVERRIDES = {"provenance": PROVENANCE_WEIGHT, "credentials": CREDENTIALS_WEIGHT}
# Added like OVERRIDES but only when they point to a fake (logit > 0): audio in sync with the mouth
# says nothing about the face (a face swap keeps its audio), audio out of sync says the clip was changed.
ONE_SIDED = {"avsync": AVSYNC_WEIGHT}
_CLIP = 1e-4


def _logit(p: float) -> float:
    p = min(max(float(p), _CLIP), 1 - _CLIP)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class FusionModel:
    analyzers: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    meta: dict

    def features(self, evidence: Sequence[Evidence]) -> list[float]:
        by = {e.analyzer: e for e in evidence}
        return [_logit(by[a].score) if a in by and by[a].status == "ok" else 0.0 for a in self.analyzers]

    def predict(self, evidence: Sequence[Evidence]) -> float:
        z = self.intercept + sum(c * x for c, x in zip(self.coef, self.features(evidence), strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def as_json(self) -> dict:
        return {"analyzers": list(self.analyzers), "coef": list(self.coef), "intercept": self.intercept,
                "meta": self.meta}

    @classmethod
    def from_json(cls, d: dict) -> FusionModel:
        if len(d["analyzers"]) != len(d["coef"]):
            raise ValueError("fusion.json: analyzers and coef differ in length")
        return cls(tuple(d["analyzers"]), tuple(float(c) for c in d["coef"]), float(d["intercept"]), d.get("meta", {}))


def fusion_path() -> Path:
    """The shipped fusion model: fitted on the default detector's scores, so it ships beside it."""
    from detector.io import shipped_fusion_file

    return shipped_fusion_file()


@lru_cache(maxsize=4)
def load_fusion(path: str | None = None) -> FusionModel | None:
    p = Path(path) if path else fusion_path()
    if not p.is_file():
        return None
    return FusionModel.from_json(json.loads(p.read_text()))


def weighed_analyzers(model: FusionModel | None = None) -> frozenset[str]:
    """Analyzers whose ``ok`` evidence moves the fused probability (reports say which ones count)."""
    fitted = model or load_fusion()
    if fitted is None:
        return frozenset({*DEFAULT_WEIGHTS, *OVERRIDES, *ONE_SIDED})
    return frozenset({a for a, c in zip(fitted.analyzers, fitted.coef, strict=True) if c > 0} | set(OVERRIDES)
                     | set(ONE_SIDED))


def label_for(p: float) -> str:
    if p >= FAKE_THRESHOLD:
        return "fake"
    if p <= REAL_THRESHOLD:
        return "real"
    return "inconclusive"


def fuse(evidence: Sequence[Evidence], model: FusionModel | None = None) -> Verdict:
    """``model=None`` uses the shipped fusion model when present, else the fallback rule."""
    ok = [e for e in evidence if e.status == "ok"]
    if not ok:
        return Verdict("inconclusive", 0.5, tuple(evidence), reason="every analyzer reported insufficient evidence")
    overrides = {e.analyzer: e for e in ok if e.analyzer in OVERRIDES}
    one_sided = {e.analyzer: e for e in ok if e.analyzer in ONE_SIDED}
    ok = [e for e in ok if e.analyzer not in OVERRIDES and e.analyzer not in ONE_SIDED]
    fitted = model or load_fusion()
    if not ok:
        p = 0.5
    elif fitted is not None and any(e.analyzer in fitted.analyzers for e in ok):
        p = fitted.predict(evidence)
    else:
        weights = [DEFAULT_WEIGHTS.get(e.analyzer, 1.0) for e in ok]
        p = sum(w * e.score for w, e in zip(weights, ok, strict=True)) / sum(weights)
    if overrides or one_sided:
        z = (_logit(p) + sum(OVERRIDES[name] * _logit(e.score) for name, e in sorted(overrides.items()))
             + sum(ONE_SIDED[name] * max(0.0, _logit(e.score)) for name, e in sorted(one_sided.items())))
        p = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
    label = label_for(p)
    reason = "" if label != "inconclusive" else f"fused probability {p:.2f} lies between {REAL_THRESHOLD} and {FAKE_THRESHOLD}"
    return Verdict(label, float(p), tuple(evidence), reason=reason)  # type: ignore[arg-type]
