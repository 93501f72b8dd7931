"""Build a test set from ../shared/data and print its size, composition and wall time.

    python benchmarks/testset_build.py --out /tmp/testset --run RUN_AE --run RUN_GAN [--seed 0]

Run it twice with the same seed into two directories and pass ``--compare OTHER_DIR`` to check
that the sha256 columns are identical.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

from fakescope.core.manifest import read_manifest
from generator.testset import TestsetConfig, build_testset

VIDEO_DIRS = ("LivePortrait/assets/examples/driving", "LivePortrait/assets/examples/source", "SadTalker",
              "TPSMM/assets", "In_Ictu_Oculi", "face_recognition/examples")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--run", action="append", default=[])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    build_testset([args.data / "videos" / d for d in VIDEO_DIRS], args.out,
                  TestsetConfig(seed=args.seed, runs=tuple(args.run)))
    minutes = (time.perf_counter() - t0) / 60
    rows = read_manifest(args.out)
    methods = collections.Counter(r["method"] for r in rows)
    perturb = collections.Counter(k for r in rows for k in json.loads(r["params"]).get("perturb", {}))
    fakes = sum(r["label"] == "fake" for r in rows)
    print(f"{len(rows)} items ({fakes} fake, {fakes / len(rows):.0%}) in {minutes:.1f} min")
    print("methods:", dict(methods))
    print("perturbation steps used:", dict(perturb))
    print("splits:", dict(collections.Counter(r["split"] for r in rows)))
    if args.compare:
        other = {r["path"]: r["sha256"] for r in read_manifest(args.compare)}
        same = sum(other.get(r["path"]) == r["sha256"] for r in rows)
        print(f"identical sha256 vs {args.compare}: {same}/{len(rows)}")


if __name__ == "__main__":
    main()
