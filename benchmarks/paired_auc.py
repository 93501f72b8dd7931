"""Is one recipe's video AUC really above another's on the same videos? A paired bootstrap.

    python benchmarks/paired_auc.py --a AUDIT/scores.csv:detector:run0 AUDIT/scores.csv:detector:run1 \
        --b OTHER/scores.csv:detector:base0 OTHER/scores.csv:detector:base1

Each argument names an audit's scores.csv and a scorer in it (the column before ``:score``). The
AUCs of the ``--a`` scorers are averaged (seeds of one recipe), likewise ``--b``'s, and their
difference is resampled over the videos all of them scored (the same resample for every scorer,
so what the videos share cancels). Printed: the difference, its 95% percentile interval and the
share of resamples at or below zero. On a set of 29 videos two seeds of one recipe can differ by
0.14, so a lead whose interval reaches zero is not established.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from fakescope.core.metrics import roc_auc


def load_scores(spec: str) -> dict[str, tuple[int, float]]:
    """``path:scorer`` -> {video path: (label, score)} of the videos that scorer judged ('ok')."""
    path, _, scorer = spec.partition(":")
    if not scorer:
        raise SystemExit(f"{spec}: give AUDIT_DIR/scores.csv:SCORER (e.g. scores.csv:detector:default)")
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    col = f"{scorer}:score"
    if not rows or col not in rows[0]:
        raise SystemExit(f"{path} has no column {col}")
    return {r["path"]: (int(r["label"] == "fake"), float(r[col])) for r in rows if r.get(f"{scorer}:status") == "ok"}


def paired_difference(a: list[dict[str, tuple[int, float]]], b: list[dict[str, tuple[int, float]]],
                      n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float, float, int]:
    """(difference, low, high, share <= 0, videos): mean AUC of ``a`` minus mean AUC of ``b``."""
    keys = sorted(set.intersection(*(set(d) for d in a + b)))
    if not keys:
        raise SystemExit("the scorers share no audited video: compare audits of the same files")
    y = np.array([a[0][k][0] for k in keys])
    sa = [np.array([d[k][1] for k in keys]) for d in a]
    sb = [np.array([d[k][1] for k in keys]) for d in b]

    def diff(idx: np.ndarray) -> float:
        yy = y[idx]
        if yy.min() == yy.max():
            return float("nan")
        return float(np.mean([roc_auc(yy, s[idx]) for s in sa]) - np.mean([roc_auc(yy, s[idx]) for s in sb]))

    rng = np.random.default_rng(seed)
    boots = np.array([diff(rng.integers(0, len(y), len(y))) for _ in range(n_boot)])
    boots = boots[~np.isnan(boots)]
    low, high = np.percentile(boots, [2.5, 97.5])
    return diff(np.arange(len(y))), float(low), float(high), float((boots <= 0).mean()), len(keys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", nargs="+", required=True, metavar="SCORES.csv:SCORER")
    ap.add_argument("--b", nargs="+", required=True, metavar="SCORES.csv:SCORER")
    ap.add_argument("--n-boot", type=int, default=2000)
    args = ap.parse_args()
    d, low, high, share, n = paired_difference([load_scores(s) for s in args.a], [load_scores(s) for s in args.b],
                                               args.n_boot)
    print(f"{n} videos: mean AUC of --a minus --b {d:+.3f} (95% CI {low:+.3f} to {high:+.3f}); "
          f"{share:.1%} of resamples at or below zero")


if __name__ == "__main__":
    main()
