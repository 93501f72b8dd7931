"""Training speed of the face-swap presets: iterations/s and faces/s of the real training step.

Measures ``SwapTrainer.train_step`` (batch sampling, augmentation, forward and backward of the
encoder and every decoder, Adam) for 2 identities at the preset's batch (16 faces per identity
for both presets). Speed does not depend on face content, so synthetic faces are used and no
data is needed (generator.synthetic). The CPU is shared: the load average before each measurement is printed, and
both torch's default thread count and a single thread are measured because OpenMP barriers
stall badly when other processes occupy the cores.

    .venv/bin/python benchmarks/generator_speed.py [--seconds 15] [--presets quick standard] [--gan]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import torch

from generator.models import FaceSwapModel, get_preset, parameter_count
from generator.synthetic import synthetic_faceset
from generator.trainer import SwapTrainer, TrainOptions


def measure(preset_name: str, seconds: float, gan: bool, precision: str, warmup: int = 3) -> tuple[float, float, int, float]:
    """Wall-clock it/s, faces/s, steps, and steps per CPU-second of this process (contention-free view)."""
    p = get_preset(preset_name)
    if gan:
        p = replace(p, gan_start_step=0)
    fs = {"a": synthetic_faceset("a", 64, p.size, seed=1), "b": synthetic_faceset("b", 64, p.size, seed=2)}
    tr = SwapTrainer(p, fs, TrainOptions(gan=gan, precision=precision))
    for _ in range(warmup):
        tr.train_step()
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        tr.train_step()
        n += 1
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return n / dt, n / dt * 2 * p.batch_per_identity, n, n / cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--presets", nargs="+", default=["quick", "standard"])
    ap.add_argument("--threads", nargs="+", type=int, default=[torch.get_num_threads(), 1])
    ap.add_argument("--precision", nargs="+", default=["bf16", "fp32"])
    ap.add_argument("--gan", action="store_true", help="also measure with the GAN term on")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs; 2 identities x batch per identity; train_step incl. augmentation")
    for name in args.presets:
        p = get_preset(name)
        m = FaceSwapModel(p, ["a", "b"])
        print(f"\n[{name}] {p.size}px, encoder {parameter_count(m.encoder) / 1e6:.2f} M params, "
              f"decoder {parameter_count(m.decoders[0]) / 1e6:.2f} M each, {p.batch_per_identity} faces/identity/iteration")
        for threads in dict.fromkeys(args.threads):
            torch.set_num_threads(threads)
            for precision in args.precision:
                for gan in ([False, True] if args.gan else [False]):
                    load = os.getloadavg()[0]
                    its, fps, n, per_cpu_s = measure(name, args.seconds, gan, precision)
                    print(f"  threads={threads} {precision:4s} gan={'on ' if gan else 'off'}  {its:5.2f} it/s  {fps:6.1f} faces/s"
                          f"  ({n} steps; {per_cpu_s / threads:.2f} it per CPU-second per thread; load avg before {load:.2f})",
                          flush=True)


if __name__ == "__main__":
    main()
