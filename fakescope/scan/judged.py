"""How many frames of each face track the analyzers could judge, and why the others were not.

Definition (the verdict JSON's ``faces.frames_judged``): a frame is judged when the chosen track's
face is in it and passes the quality gate of fakescope.core.quality (``FaceObservation.quality.usable``).
Those are exactly the frames every face analyzer is given to judge: blink and pulse read each of
them, the crop analyzers score a sample of them (the detector every ``detector_every``-th of the
track's judged frames, edges and spectrum every n-th frame) and skip every other frame of the track.
Every decoded frame is either judged or counted once under ``faces.not_judged``:

- ``not_found``: the chosen track's face was not found in the frame (no face at all, or only other
  people's);
- ``too_small``, ``turned``, ``low_confidence``: the face was tracked but its quality's weakest part
  was below the threshold (see fakescope.core.quality).

So ``frames_judged + sum(not_judged.values()) == video.frames``. With no face at all, frames_judged
is 0 and every frame is ``not_found``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fakescope.core.quality import REASONS
from fakescope.core.types import FaceObservation

NOT_FOUND = "not_found"


class JudgedFrames:
    """Per-track counts of judged frames and of the reasons others were not judged."""

    def __init__(self) -> None:
        self.judged: Counter[int] = Counter()
        self.reasons: dict[int, Counter[str]] = {}

    def add(self, faces: list[FaceObservation]) -> None:
        for f in faces:
            reason = f.quality.reason
            if reason is None:
                self.judged[f.track_id] += 1
            else:
                self.reasons.setdefault(f.track_id, Counter())[reason] += 1

    def track_json(self, track_id: int) -> dict[str, Any]:
        """``frames_judged`` and ``not_judged`` (quality reasons only) of one track."""
        reasons = self.reasons.get(track_id, Counter())
        return {"frames_judged": int(self.judged[track_id]), "not_judged": {r: int(reasons[r]) for r in REASONS}}

    def faces_json(self, frames: int, frames_with_face: int, tracks: int, chosen: int | None) -> dict[str, Any]:
        """The verdict JSON's ``faces`` block for the chosen track (DESIGN.md keys first)."""
        if chosen is None:
            judged, reasons = 0, Counter[str]()
        else:
            judged, reasons = int(self.judged[chosen]), self.reasons.get(chosen, Counter())
        seen = judged + sum(reasons.values())
        not_judged = {NOT_FOUND: max(0, int(frames) - seen), **{r: int(reasons[r]) for r in REASONS}}
        return {"frames_with_face": int(frames_with_face), "frames_judged": judged, "tracks": int(tracks),
                "not_judged": not_judged}
