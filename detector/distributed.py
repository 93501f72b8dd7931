"""Data-parallel detector training with torch.distributed (``detector train --distributed``).

Processes are launched by ``torchrun`` (``python -m torch.distributed.run``), which sets RANK,
WORLD_SIZE and the rendezvous address; they talk over the gloo backend, so this works on CPUs
(and across machines). The goal is that W processes give the same model as one process with the
same global batch and seed, up to floating-point summation order:

* every rank draws the same global batch indices and the same per-sample augmentation seeds from
  the same numpy stream, then keeps its contiguous slice of the batch (``Dist.shard``);
* DistributedDataParallel averages the gradients of the per-rank mean losses, which is the gradient
  of the global mean loss because every rank holds ``batch_size / W`` samples;
* BatchNorm layers become ``GlobalBatchNorm2d`` (torch's SyncBatchNorm refuses CPU tensors): batch
  statistics of the global batch, with gradients flowing through the all-reduce;
* validation is split across ranks and the logits gathered, so early stopping sees one answer.

Dropout masks cannot be shared that way (torch draws a mask per tensor, not per sample): with
dropout > 0 the ranks draw independent masks, which is statistically equivalent but not the same
numbers as one process. Architectures without dropout (or with ``dropout: 0``) match exactly.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

DISTRIBUTED_ENV = ("RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class Dist:
    """Rank and world size of this process; ``Dist()`` is a single-process run."""

    rank: int = 0
    world_size: int = 1
    bn_group: Any = None  # process group of the BatchNorm all-reduces (kept apart from DDP's)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main rank writes files (checkpoints, run.json, the model, plots)."""
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous block of ``n`` items (``n`` must divide evenly for training batches)."""
        per = -(-n // self.world_size)
        return slice(min(n, self.rank * per), min(n, (self.rank + 1) * per))

    def check_batch(self, batch_size: int) -> None:
        if batch_size % self.world_size:
            raise ValueError(
                f"--batch-size {batch_size} must be a multiple of the {self.world_size} processes, so each "
                "holds the same share of every global batch"
            )

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def mean(self, value: torch.Tensor) -> float:
        """Average of a scalar over ranks (the global-batch mean of equal-sized shards)."""
        if not self.enabled:
            return float(value.detach())
        v = value.detach().clone().reshape(1).float()
        torch.distributed.all_reduce(v)
        return float(v) / self.world_size

    def gather(self, local: np.ndarray, n: int) -> np.ndarray:
        """Concatenate every rank's ``shard(n)`` block of a 1-D float32 array, in rank order."""
        if not self.enabled:
            return local
        per = -(-n // self.world_size)
        padded = torch.zeros(per, dtype=torch.float32)
        padded[: len(local)] = torch.from_numpy(np.asarray(local, np.float32))
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, padded)
        return torch.cat(parts).numpy()[:n]

    def decorrelate_torch_rng(self, seed: int, step: int) -> None:
        """Dropout masks must differ between ranks; rank 0 keeps the single-process stream."""
        if self.rank > 0:
            torch.manual_seed((seed * 1_000_003 + self.rank * 7_919 + step) % 2**63)


def under_torchrun() -> bool:
    return all(k in os.environ for k in DISTRIBUTED_ENV)


def init_from_env() -> Dist:
    """Join the process group torchrun set up (gloo); raises ValueError outside torchrun."""
    if not under_torchrun():
        raise ValueError("distributed training needs torchrun's RANK/WORLD_SIZE; launch it with "
                         "`fakescope detector train ... --distributed` or `torchrun ... -m fakescope.cli ...`")
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), dist.new_group(backend="gloo"))


def shutdown() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def torchrun_command(argv: list[str], nproc: int) -> list[str]:
    """The command that re-runs this CLI invocation as ``nproc`` torchrun processes on this machine.

    ``--nproc`` is left out of the children's arguments: they do not need it, and torchrun's own
    parser would take it for an abbreviation of its ``--nproc-per-node``.
    """
    child: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            child.append(a)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "fakescope.cli", *child]


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over ranks: the gradient of a sum of every rank's loss w.r.t. the summed
    tensor is the sum of the ranks' upstream gradients, so backward is an all-reduce too."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, group: Any) -> torch.Tensor:  # noqa: ANN401
        ctx.group = group
        out = x.clone()
        torch.distributed.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN401
        g = grad.contiguous().clone()
        torch.distributed.all_reduce(g, group=ctx.group)
        return g, None


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the global batch over all ranks.

    torch.nn.SyncBatchNorm only runs on accelerators; this is the same computation on any device:
    per-channel sums and sums of squares (in float64, so E[x^2] - E[x]^2 loses nothing that matters)
    are all-reduced with a differentiable sum whose backward sums the gradients of every rank's
    loss, exactly as a full-batch BatchNorm would.
    Outside training, or in a single process, it is a plain BatchNorm2d; the state dict is the same.
    """

    group: Any = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        xd = x.double()
        local = torch.cat([xd.sum(dim=(0, 2, 3)), (xd * xd).sum(dim=(0, 2, 3)),
                           xd.new_tensor([x.numel() / c])])
        total = _AllReduceSum.apply(local, self.group)
        n = total[-1].detach()
        mean = total[:c] / n
        var = (total[c : 2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)  # type: ignore[union-attr,operator]
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.to(self.running_mean.dtype), alpha=m)
                unbiased = var * (n / (n - 1).clamp_min(1))
                self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype), alpha=m)
        scale = torch.rsqrt(var + self.eps).to(x.dtype)
        y = (x - mean.to(x.dtype)[None, :, None, None]) * scale[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def globalize_batchnorm(module: nn.Module, group: Any = None) -> nn.Module:
    """Swap every BatchNorm2d for a GlobalBatchNorm2d holding the same parameters and buffers."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, nn.BatchNorm2d):
        raise ValueError(f"{module.__class__.__name__} is not supported by --distributed (only BatchNorm2d)")
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, GlobalBatchNorm2d):
        new = GlobalBatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats)
        new.load_state_dict(module.state_dict())
        new.group = group
        new.train(module.training)
        return new
    for name, child in module.named_children():
        setattr(module, name, globalize_batchnorm(child, group))
    return module
