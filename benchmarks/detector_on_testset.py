"""Detectors scored on a test set's stored crops, as the trainer scores its own test split.

    python benchmarks/detector_on_testset.py --testset TESTSET_DIR --detector default --detector models/mine
        [--split test]

Why: a detector's run.json holds the test figures of the test set it was trained with. When the
test set changes (new fake methods, new mouth fills), this puts older detectors on the new items
with the same metric: video AUC (the top-frames aggregate of each video's crops) and the video AUC
of each fake method against all reals of the split. The split keeps the fusion-holdout rule the
shipped recipe trains with, so figures compare with run.json's. Faster than `fakescope audit`
(no decoding or face finding), and not the same figure: audit goes through the scan pipeline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detector.data import load_crops
from detector.evaluate import loaded_split_metrics
from detector.io import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testset", type=Path, required=True)
    ap.add_argument("--detector", action="append", required=True, help="name or model dir; repeatable")
    ap.add_argument("--split", default="test", choices=["train", "val", "test"])
    ap.add_argument("--no-fusion-holdout", action="store_true",
                    help="keep the validation identities the fusion fit reserves (detectors trained without "
                         "--fusion-holdout)")
    args = ap.parse_args()
    for name in args.detector:
        det = load_model(name)
        if det.needs_mask:
            print(f"{name}: reads a face-mask plane; this script scores crops alone, skipped")
            continue
        split = load_crops([args.testset], det.input_size, 32, (), not args.no_fusion_holdout).splits[args.split]
        m = loaded_split_metrics(det, split)
        per = ", ".join(f"{k} {v:.3f}" for k, v in m["per_method_video_auc"].items() if v is not None)
        print(f"{name} on {args.testset.name} {args.split} ({m['n_videos']} videos): video AUC {m['video_auc']:.3f}, "
              f"frame AUC {m['frame_auc']:.3f}; per method: {per}")


if __name__ == "__main__":
    main()
