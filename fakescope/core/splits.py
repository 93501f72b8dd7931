"""Which validation identities are held back for fitting the fusion model.

Why: the detector picks its epoch, calibration and threshold on the validation split, so its
scores there are better than anywhere else; a fusion fitted on the same videos trusts it too much
(stop 13: fused AUC 0.924 under the edge analyzer's 0.976). Half of the validation identities,
chosen by a hash of the identity name (so the same set is chosen by every tool without state),
are kept away from the detector and used only to fit the fusion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def fusion_holdout(val_identities: Iterable[str]) -> frozenset[str]:
    """Every other identity in SHA-256 order: about half, and the same set for the same identities."""
    ranked = sorted(set(val_identities), key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    return frozenset(ranked[1::2])


def holdout_of_rows(rows: Iterable[dict[str, str]]) -> frozenset[str]:
    """The fusion hold-out of a manifest's rows (``split`` and ``identity`` columns)."""
    return fusion_holdout(r.get("identity", "") for r in rows if r.get("split") == "val")
