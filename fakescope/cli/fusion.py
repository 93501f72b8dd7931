"""`fakescope fusion fit`: fit how the analyzers' evidence is weighed into one verdict.

The command calls fakescope.scan.fusion_fit.fit_fusion_on_testset, imported only when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fakescope.cli.common import EXIT_OK, group, output_file


def cmd_fusion_fit(args: argparse.Namespace) -> int:
    from fakescope.scan.fusion_fit import fit_fusion_on_testset

    out = output_file(args.out, "--out") if args.out else None
    fit = fit_fusion_on_testset(args.data, args.split, args.holdout, args.detector, out)
    for subset, auc in sorted(fit.scores.items(), key=lambda kv: -kv[1]):
        print(f"  leave-one-identity-out AUC {auc:.4f}  {subset}")
    model = fit.model
    print(f"fusion model on {fit.videos} {args.split} videos: coef "
          f"{dict(zip(model.analyzers, model.coef, strict=True))}, intercept {model.intercept:.3f} -> {fit.out}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    fusion = group(sub, "fusion", "the fused verdict: fit its weights")
    ff = fusion.add_parser(
        "fit", help="fit the fusion on a test set's validation videos (each is scanned with every analyzer)")
    ff.add_argument("--data", type=Path, required=True, metavar="DIR", help="test set (from `fakescope testset build`)")
    ff.add_argument("--split", default="val", help="manifest split to fit on (default val)")
    ff.add_argument("--holdout", action="store_true",
                    help="only the split's fusion hold-out identities: the ones a detector trained with "
                         "--fusion-holdout never saw (how the shipped fusion is fitted)")
    ff.add_argument("--detector", default="default", metavar="NAME",
                    help="detector name or model dir the scans use (default: default)")
    ff.add_argument("--out", type=Path, default=None, metavar="JSON",
                    help="where to write the model (default: the shipped fusion.json beside the default detector)")
    ff.set_defaults(func=cmd_fusion_fit)
