"""One training step of the face-swap model, and the state that makes it resumable.

Why all randomness lives in one numpy Generator owned by the trainer: batch sampling and
augmentation draw from it and nothing else, and the model is initialised under a forked, seeded
torch RNG. Saving that one generator's state in the checkpoint is therefore enough for a resumed
run to take exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from fakescope.core.checkpoint import (
    Checkpoint,
    load_module,
    module_tensors,
    numpy_rng_state,
    optimizer_from_flat,
    optimizer_to_flat,
    restore_numpy_rng,
    restore_torch_rng,
    torch_rng_state,
)
from generator.augment import AugmentConfig, augment_batch
from generator.discriminator import PatchDiscriminator
from generator.faceset import FaceSet
from generator.losses import (
    GanKind,
    feature_matching_loss,
    gan_d_loss,
    gan_g_loss,
    gan_ramp,
    mask_loss,
    reconstruction_loss,
    region_weights,
)
from generator.models import FaceSwapModel, Preset, autocast_dtype, images_to_tensor


@dataclass(frozen=True)
class TrainOptions:
    seed: int = 0
    gan: bool = True  # adversarial term after ``gan_start_step`` (None: the preset's)
    gan_loss: GanKind = "lsgan"
    gan_start_step: int | None = None
    precision: str = "auto"  # auto | bf16 | fp32
    feature_matching: float = 0.0  # weight of discriminator feature matching (with the GAN term)
    mask_weight: float = 0.25
    eye_weight: float = 3.0
    mouth_weight: float = 3.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def gan_start(self, preset: Preset) -> int:
        """Step at which the discriminator joins: this run's override, else the preset's."""
        return preset.gan_start_step if self.gan_start_step is None else self.gan_start_step

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainOptions:
        d = dict(d)
        d["augment"] = AugmentConfig(**d.get("augment", {}))
        return cls(**d)


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor  # (N, 3, S, S) warped
    targets: torch.Tensor  # (N, 3, S, S)
    masks: torch.Tensor  # (N, 1, S, S)
    weights: torch.Tensor  # (N, 1, S, S)


class SwapTrainer:
    """Model, discriminator, optimizers and RNG of one training run."""

    def __init__(self, preset: Preset, facesets: dict[str, FaceSet], options: TrainOptions | None = None) -> None:
        self.preset = preset
        self.options = options or TrainOptions()
        self.facesets = facesets
        self.identities = list(facesets)
        for name, fs in facesets.items():
            if len(fs) == 0:
                raise ValueError(f"identity {name!r} has no faces to train on")
            if fs.images.shape[1] != preset.size:
                raise ValueError(f"faces of {name!r} are {fs.images.shape[1]} px but preset {preset.name} needs {preset.size} px")
        with torch.random.fork_rng():
            torch.manual_seed(self.options.seed)
            self.model = FaceSwapModel(preset, self.identities).to(memory_format=torch.channels_last)
            self.disc = PatchDiscriminator(3, preset.disc_width, preset.disc_layers).to(memory_format=torch.channels_last)
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=preset.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=preset.lr, betas=betas)
        self.rng = np.random.default_rng(self.options.seed)
        self.step = 0
        self.dtype = autocast_dtype(self.options.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=self.dtype)

    def sample(self, identity: int) -> Batch:
        fs = self.facesets[self.identities[identity]]
        idx = self.rng.integers(0, len(fs), self.preset.batch_per_identity)
        aug = augment_batch(fs.images[idx], fs.masks[idx], fs.landmarks[idx], self.rng, self.options.augment)
        o = self.options
        w = np.stack([region_weights(lm, self.preset.size, m, o.eye_weight, o.mouth_weight) for lm, m in zip(aug.landmarks, aug.masks, strict=True)])
        return Batch(
            inputs=images_to_tensor(aug.inputs),
            targets=images_to_tensor(aug.targets),
            masks=torch.from_numpy(aug.masks)[:, None],
            weights=torch.from_numpy(w)[:, None],
        )

    @property
    def gan_start(self) -> int:
        return self.options.gan_start(self.preset)

    def gan_active(self) -> bool:
        return self.options.gan and self.step >= self.gan_start

    def train_step(self) -> dict[str, float]:
        """One optimizer step over a batch of every identity; returns the loss terms."""
        n = len(self.identities)
        batches = [self.sample(i) for i in range(n)]
        bsz = self.preset.batch_per_identity
        use_gan = self.gan_active()
        self.model.train()
        with self.autocast():
            code = self.model.encode(torch.cat([b.inputs for b in batches]))
            rec = torch.zeros(())
            mloss = torch.zeros(())
            fakes = []
            for i, b in enumerate(batches):
                rgb, mlogits = self.model.decode(code[i * bsz:(i + 1) * bsz], i)
                rec = rec + reconstruction_loss(rgb, b.targets, b.weights)
                if mlogits is not None:
                    mloss = mloss + mask_loss(mlogits, b.masks)
                if use_gan:
                    # The discriminator judges the face pasted into the real crop, as a render
                    # would show it: it should not spend itself on the unweighted background.
                    fakes.append(rgb.float() * b.masks + b.targets * (1 - b.masks))
            rec, mloss = rec / n, mloss / n
            total = rec + self.options.mask_weight * mloss
            adv = torch.zeros(())
            fm = torch.zeros(())
            if use_gan:
                self.disc.requires_grad_(False)
                ramp = gan_ramp(self.step, self.gan_start)
                if self.options.feature_matching > 0:
                    # One pass over fakes and reals together: spectral norm's power iteration moves
                    # the weights a little on every training-mode forward, and a second pass would
                    # compare the two under different weights.
                    nf = len(fakes) * bsz
                    both = self.disc.features(torch.cat([*fakes, *(b.targets for b in batches)]))
                    fake_feats, real_feats = [f[:nf] for f in both], [f[nf:] for f in both]
                    adv = gan_g_loss(fake_feats[-1], self.options.gan_loss)
                    fm = feature_matching_loss(real_feats, fake_feats)
                    total = total + self.options.feature_matching * ramp * fm
                else:
                    adv = gan_g_loss(self.disc(torch.cat(fakes)), self.options.gan_loss)
                total = total + self.preset.gan_weight * ramp * adv
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        d_loss = torch.zeros(())
        if use_gan:
            self.disc.requires_grad_(True)
            real = torch.cat([b.targets for b in batches])
            with self.autocast():
                d_loss = gan_d_loss(self.disc(real), self.disc(torch.cat(fakes).detach()), self.options.gan_loss)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        self.step += 1
        return {"recon": rec.item(), "mask": mloss.item(), "g_adv": adv.item(), "fm": fm.item(), "d": d_loss.item()}

    # --- checkpoint state -------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {**module_tensors("model", self.model), **module_tensors("disc", self.disc)}
        tg, mg = optimizer_to_flat("opt_g", self.opt_g)
        td, md = optimizer_to_flat("opt_d", self.opt_d)
        tensors.update(tg)
        tensors.update(td)
        meta = {
            "preset": self.preset.as_json(),
            "identities": self.identities,
            "options": self.options.as_json(),
            "seed": self.options.seed,
            "optimizers": {"opt_g": mg, "opt_d": md},
            "rng": {"numpy": numpy_rng_state(self.rng), "torch": torch_rng_state()},
            "trainer_step": self.step,
        }
        return tensors, meta

    def load(self, ckpt: Checkpoint) -> None:
        meta = ckpt.meta
        if meta["identities"] != self.identities:
            raise ValueError(
                f"checkpoint {ckpt.path} was trained on identities {meta['identities']}, not {self.identities}; "
                "use the same --identity names (in the same order) or start a new run directory"
            )
        if Preset.from_json(meta["preset"]) != self.preset:
            raise ValueError(f"checkpoint {ckpt.path} uses preset {meta['preset']['name']!r}; resume with that preset")
        load_module("model", self.model, ckpt.tensors)
        load_module("disc", self.disc, ckpt.tensors)
        optimizer_from_flat("opt_g", self.opt_g, ckpt.tensors, meta["optimizers"]["opt_g"])
        optimizer_from_flat("opt_d", self.opt_d, ckpt.tensors, meta["optimizers"]["opt_d"])
        restore_numpy_rng(self.rng, meta["rng"]["numpy"])
        restore_torch_rng(meta["rng"]["torch"])
        self.step = int(meta["trainer_step"])
