"""Inference throughput (face crops/s) of every registered detector, batched, on this CPU.

Usage: python benchmarks/detector_speed.py [--batch 64] [--size 128] [--threads 2] [--seconds 3]
       [--archs meso4 patchgan] [--weights NAME_OR_DIR] [--train]

Models are freshly initialised (speed does not depend on the weights) and run as LoadedDetector
runs them: eval mode, inference_mode, channels_last, fp32 and bf16 autocast. ``--weights`` also
times the full LoadedDetector.predict_logits path (160 px BGR uint8 crops and float hull masks,
resize, normalise).
``--train`` adds training throughput (forward + backward + AdamW step, batch 32), for planning runs.
The load average is printed because the machine is shared: figures taken while other jobs run
are lower bounds.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from detector.io import load_model
from detector.registry import create_detector, detector_spec, list_detectors


def crops_per_second(fn, batch: int, seconds: float) -> float:
    fn()  # warm-up: oneDNN builds its kernels on the first call
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 2:
        fn()
        n += 1
    return batch * n / (time.perf_counter() - start)


def train_rate(name: str, size: int, bf16: bool, seconds: float, batch: int = 32) -> float:
    model = create_detector(name).train().to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, detector_spec(name).in_channels, size, size).contiguous(memory_format=torch.channels_last)
    y = (torch.arange(batch) % 2).float()

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return crops_per_second(step, batch, seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--archs", nargs="*", default=None)
    ap.add_argument("--weights", default=None, help="also time load_model(NAME_OR_DIR).predict_logits")
    ap.add_argument("--train", action="store_true", help="also time training steps (batch 32)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, threads={args.threads}, batch={args.batch}, size={args.size}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, load avg {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    cols = ["fp32 crops/s", "bf16 crops/s"] + (["train fp32", "train bf16"] if args.train else [])
    print(f"{'arch':20s} {'params':>9s} " + " ".join(f"{c:>13s}" for c in cols))
    for name in args.archs or list_detectors():
        x = torch.randn(args.batch, detector_spec(name).in_channels, args.size, args.size)
        x = x.contiguous(memory_format=torch.channels_last)
        model = create_detector(name).eval().to(memory_format=torch.channels_last)
        params = sum(p.numel() for p in model.parameters())
        rates = []
        for bf16 in (False, True):
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                rates.append(crops_per_second(lambda m=model, x=x: m(x), args.batch, args.seconds))
        if args.train:
            rates += [train_rate(name, args.size, bf16, args.seconds) for bf16 in (False, True)]
        print(f"{name:20s} {params / 1e6:8.3f}M " + " ".join(f"{r:13.1f}" for r in rates), flush=True)
    if args.weights:
        det = load_model(args.weights)
        crops = np.random.default_rng(0).integers(0, 256, (args.batch, 160, 160, 3), dtype=np.uint8)
        masks = np.zeros((args.batch, 160, 160), np.float32)  # AlignedFace.mask: float hull at crop size
        masks[:, 30:140, 35:125] = 1.0
        rate = crops_per_second(
            lambda: det.predict_logits(crops, batch_size=args.batch, masks=masks), args.batch, args.seconds
        )
        print(f"load_model({args.weights!r}).predict_logits on 160 px uint8 crops: {rate:.1f} crops/s")
    print(f"load avg after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
