"""Leave-one-method-out: train without one fake method, test on it (video AUC vs test reals).

    python benchmarks/detector_heldout.py --data TESTSET_DIR --arch mobilenet_v3_small --out /tmp/heldout [--epochs 8]
    python benchmarks/detector_heldout.py --data TESTSET_DIR --photos PHOTO_DIR --arch meso4_contrast --sbi 0.5 \
        --fusion-holdout --epochs 20 --out /tmp/heldout      # the shipped default's recipe

Also prints the all-methods model's per-method test AUC when ``--full MODEL_DIR`` names a model
trained on everything, so both columns sit side by side. With ``--sbi F`` the models train with
online self-blends (detector.sbi) -- except the one that holds out ``self_blend``: online
self-blends *are* that method, so leaving it out means leaving them out too, and with them the
``--photos`` sets (generator.photoreals), which are only ever used as self-blend sources.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from detector.train import TrainConfig, train_detector
from fakescope.core.manifest import read_manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--arch", default="mobilenet_v3_small")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--full", type=Path, default=None, help="model dir trained on all methods")
    ap.add_argument("--arch-kwargs", default="{}", help="JSON, e.g. '{\"width_mult\": 0.5}'")
    ap.add_argument("--sbi", type=float, default=0.0, help="online self-blend share of each batch")
    ap.add_argument("--photos", type=Path, nargs="*", default=[], help="photo sets (fakescope testset photos)")
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--fusion-holdout", action="store_true", help="train as the shipped default was")
    ap.add_argument("--methods", nargs="*", default=None, help="hold out only these methods (default: every one "
                                                               "with test items)")
    args = ap.parse_args()
    rows = [r for r in read_manifest(args.data) if r["label"] == "fake"]
    methods = sorted({r["method"] for r in rows if r.get("split") == "test"})  # a method without test items cannot be measured
    if args.methods:
        methods = [m for m in methods if m in args.methods]
    full = {}
    if args.full:
        full = json.loads((args.full / "config.json").read_text())["metrics"]["test"]["per_method_video_auc"]
    print(f"{'held-out method':16s} {'AUC held out':>12s} {'AUC all-in':>10s} {'minutes':>8s} {'sbi':>5s}")
    for m in methods:
        t0 = time.perf_counter()
        sbi = 0.0 if m == "self_blend" else args.sbi
        cfg = TrainConfig(epochs=args.epochs, exclude_methods=(m,), progress=False, resume=True,
                          arch_kwargs=json.loads(args.arch_kwargs), sbi_fraction=sbi, input_size=args.input_size,
                          fusion_holdout=args.fusion_holdout)
        data = [args.data, *(args.photos if sbi > 0 else [])]
        res = train_detector(data, args.arch, args.out / f"without_{m}", cfg)
        auc = res.metrics["test"]["per_method_video_auc"].get(m)
        minutes = (time.perf_counter() - t0) / 60
        print(f"{m:16s} {auc if auc is not None else float('nan'):12.3f} {full.get(m, float('nan')):10.3f} {minutes:8.1f} {sbi:5.2f}",
              flush=True)


if __name__ == "__main__":
    main()
