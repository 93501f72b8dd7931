"""Does any in-domain figure we could select recipes by predict how a detector transfers?

    python benchmarks/selection_vs_transfer.py --testset TESTSET_DIR --run MODEL_DIR ... \
        [--audit AUDIT_DIR ...] [--permutations 10000]

Why: recipes, epochs and fusion have been chosen by in-domain validation figures, and the
cross-dataset sets may only be reported, never optimised on. That is sound only if some in-domain
criterion ranks recipes the way the cross-dataset sets do. This scores every trained run on one
test set's validation and test splits (the same crops for all, so runs trained on other test sets
are put on equal footing), reads each run's DFDC figure (its crossdataset.json, written by
`detector train --cross`) and its talking_heads video AUC (the metrics.json of `fakescope audit
--detectors-only` runs whose detector is named like the run folder), and prints the Spearman
rank correlation of each criterion with each transfer figure across runs, with a two-sided
permutation p-value. The criteria: pooled validation video AUC (the default `--select auc`), the
weakest fake method's validation video AUC (`--select worst_method`), and the test split's video
AUC (what earlier stops reported as "in-domain"). The mean over methods is no separate criterion:
each method's AUC is against all reals, so the pooled AUC is their mean weighted by fake count.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from detector.data import CropData, load_crops
from detector.evaluate import loaded_split_metrics
from detector.io import load_model

CRITERIA = ("val_video_auc", "val_worst_method", "test_video_auc")
TRANSFER = ("dfdc_frame_auc", "talking_heads_video_auc")


def talking_heads_aucs(audit_dirs: list[Path]) -> dict[str, float]:
    """Each audited detector's video AUC, as the audit's metrics.json gives it."""
    out: dict[str, float] = {}
    for d in audit_dirs:
        for name, m in json.loads((d / "metrics.json").read_text())["scorers"].items():
            if name.startswith("detector:") and m["video"]["auc"] is not None:
                # rounded so equal AUCs (multiples of 1/(2 n_real n_fake)) tie exactly in the ranks
                out[name.split(":", 1)[1]] = round(float(m["video"]["auc"]), 9)
    return out


def dfdc_auc(run_dir: Path) -> float | None:
    p = run_dir / "crossdataset.json"
    if not p.is_file():
        return None
    return float(json.loads(p.read_text())[0]["auc"])


def permutation_p(x: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator) -> float:
    """Two-sided: share of shuffles whose |rho| reaches the observed one (with the observed counted)."""
    rho = abs(spearmanr(x, y).statistic)
    hits = sum(abs(spearmanr(x, rng.permutation(y)).statistic) >= rho - 1e-12 for _ in range(n))
    return (hits + 1) / (n + 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testset", type=Path, required=True, help="the test set whose val and test splits score every run")
    ap.add_argument("--run", type=Path, action="append", required=True, help="trained model dir; repeatable")
    ap.add_argument("--audit", type=Path, action="append", default=[], help="`fakescope audit` output; repeatable")
    ap.add_argument("--permutations", type=int, default=10000)
    args = ap.parse_args()

    th = talking_heads_aucs(args.audit)
    crops: dict[int, CropData] = {}
    rows: list[dict[str, float | str | None]] = []
    for run in args.run:
        det = load_model(run)
        if det.needs_mask:
            print(f"{run.name}: reads a face-mask plane; scored crops carry none here, skipped")
            continue
        if det.input_size not in crops:
            crops[det.input_size] = load_crops([args.testset], det.input_size, 32, (), True)
        data = crops[det.input_size]
        row: dict[str, float | str | None] = {"run": run.name}
        for split_name in ("val", "test"):
            m = loaded_split_metrics(det, data.splits[split_name])
            row[f"{split_name}_video_auc"] = m["video_auc"]
            if split_name == "val":
                row["val_worst_method"] = min(v for v in m["per_method_video_auc"].values() if v is not None)
        row["dfdc_frame_auc"] = dfdc_auc(run)
        row["talking_heads_video_auc"] = th.get(run.name)
        rows.append(row)
        print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)

    print(f"\n| run | {' | '.join(CRITERIA)} | {' | '.join(TRANSFER)} |")
    print("|---" * (1 + len(CRITERIA) + len(TRANSFER)) + "|")
    for r in rows:
        cells = [f"{r[k]:.3f}" if isinstance(r[k], float) else "-" for k in (*CRITERIA, *TRANSFER)]
        print(f"| {r['run']} | {' | '.join(cells)} |")

    rng = np.random.default_rng(0)
    print(f"\nSpearman rho across runs (two-sided permutation p, {args.permutations} shuffles):")
    for t in TRANSFER:
        have = [r for r in rows if r[t] is not None]
        if len(have) < 4:
            print(f"  {t}: {len(have)} runs have it; need 4")
            continue
        y = np.array([r[t] for r in have], dtype=float)
        for c in CRITERIA:
            x = np.array([r[c] for r in have], dtype=float)
            rho = spearmanr(x, y).statistic
            print(f"  {c} vs {t} ({len(have)} runs): rho {rho:+.2f}, p {permutation_p(x, y, args.permutations, rng):.3f}")


if __name__ == "__main__":
    main()
