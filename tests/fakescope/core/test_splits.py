from __future__ import annotations

from fakescope.core.splits import fusion_holdout, holdout_of_rows


def test_fusion_holdout_is_half_the_val_identities_and_stable() -> None:
    ids = [f"person{i}" for i in range(10)]
    held = fusion_holdout(ids)
    assert len(held) == 5 and held <= set(ids)
    assert fusion_holdout(reversed(ids)) == held  # order of the manifest does not matter
    rows = [{"split": "val", "identity": i} for i in ids] + [{"split": "test", "identity": "other"}]
    assert holdout_of_rows(rows) == held and "other" not in holdout_of_rows(rows)
