"""``fakescope swap train``: extract faces, train, and keep the run resumable and inspectable.

Why the loop is built this way: on a shared 2-core CPU a run is long and may be killed at any
time, so everything a user needs lives in the run directory and is written atomically —
checkpoints every few minutes (resume continues from the newest complete one), preview grids,
a loss CSV and a loss plot. ``minutes`` is the run's *total* training time, counted across
resumes, so "train 30 minutes" means the same thing whether or not the run was interrupted.
"""

from __future__ import annotations

import csv
import io
import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch

from fakescope.core.atomicio import write_json_atomic, write_png_atomic, write_text_atomic
from fakescope.core.checkpoint import load_checkpoint, load_checkpoint_meta, save_checkpoint
from fakescope.core.version import code_version
from generator.faceset import FaceSet, build_faceset
from generator.losses import GanKind
from generator.models import Preset, get_preset
from generator.preview import preview_grid, write_loss_plot
from generator.threads import ThreadTuner, torch_threads
from generator.trainer import SwapTrainer, TrainOptions

LOSS_COLUMNS = ("step", "train_seconds", "recon", "mask", "g_adv", "fm", "d", "it_per_s", "threads")
_OPTIONAL_COLUMNS = {"fm": 0.0}  # absent from logs written before feature matching existed
RUN_FILE = "run.json"


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    step: int
    train_seconds: float  # total over all sessions of this run
    session_steps: int
    session_it_per_s: float
    checkpoint: Path | None
    losses: dict[str, float] = field(default_factory=dict)  # mean over the last logged window
    interrupted: bool = False


@contextmanager
def _graceful_sigint() -> Iterator[dict[str, bool]]:
    """Ctrl-C sets a flag the loop checks between steps, so a checkpoint is never taken mid-update."""
    flag = {"stop": False}

    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: nothing to install
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def data_manifest(facesets: dict[str, FaceSet]) -> dict[str, Any]:
    return {
        name: {"faces": len(fs), "key": fs.key, "sources": list(fs.sources), "sha256": list(fs.source_sha256)}
        for name, fs in facesets.items()
    }


def _read_loss_log(path: Path, max_step: int) -> list[dict[str, float]]:
    if not path.exists():
        return []
    rows = []
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            try:
                row = {k: float(r[k]) if r.get(k) not in (None, "") else _OPTIONAL_COLUMNS[k] for k in LOSS_COLUMNS}
            except (KeyError, TypeError, ValueError):
                continue  # a line cut by a kill -9
            if row["step"] <= max_step:
                rows.append(row)
    return rows


def _write_loss_log(path: Path, rows: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOSS_COLUMNS)
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(r[k]) for k in LOSS_COLUMNS})
    write_text_atomic(path, buf.getvalue())


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6g}"


def train_facesets(
    facesets: dict[str, FaceSet],
    run_dir: Path,
    preset: Preset,
    options: TrainOptions | None = None,
    minutes: float | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    progress: bool = True,
    checkpoint_minutes: float = 5.0,
    checkpoint_steps: int | None = None,
    preview_minutes: float = 3.0,
    log_every: int = 10,
    threads: int | Literal["auto"] | None = "auto",
) -> TrainResult:
    """Train on already extracted faces (the part of :func:`train_swap` tests and the test-set builder reuse).

    Stops when the run's total training time reaches ``minutes`` or its step count reaches
    ``max_steps``; with neither, it runs until Ctrl-C (which still checkpoints). ``threads``:
    torch threads while training; "auto" re-measures every two minutes whether torch's default
    or one thread is faster (see generator.threads), None leaves torch's setting alone.
    """
    options = options or TrainOptions()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(run_dir)
    if ckpt is not None and not resume:
        raise ValueError(f"{run_dir} already holds a trained run (step {ckpt.step}); pass --resume to continue it or choose a new --out")
    if ckpt is not None and options.gan_start_step is None:
        # No start given: the run's own, not the preset's. Otherwise a GAN run started early
        # (--gan-start) would lose its discriminator until the preset's later start, silently.
        options = replace(options, gan_start_step=TrainOptions.from_json(ckpt.meta["options"]).gan_start_step)
    trainer = SwapTrainer(preset, facesets, options)
    data = data_manifest(facesets)
    train_seconds = 0.0
    log_path = run_dir / "losses.csv"
    rows: list[dict[str, float]] = []
    if ckpt is not None:
        old = {k: v["key"] for k, v in ckpt.meta.get("data", {}).items()}
        new = {k: v["key"] for k, v in data.items()}
        if old != new:
            raise ValueError(f"the faces of this run changed since checkpoint {ckpt.path.name} (different source files); start a new run directory")
        recorded = TrainOptions.from_json(ckpt.meta["options"])
        if options != recorded:
            # Switching the adversarial terms on (their start, feature matching's weight) is the one
            # change allowed on resume: it is how an autoencoder-only run gets a GAN phase, as
            # faceswap's users do.
            gan_only = replace(options, gan=recorded.gan, gan_start_step=recorded.gan_start_step,
                               feature_matching=recorded.feature_matching) == recorded
            if not gan_only:
                raise ValueError(f"training options differ from checkpoint {ckpt.path.name}; resume with the original options")
            if progress:
                print(f"resuming step {ckpt.step} with GAN {'on' if options.gan else 'off'}"
                      f" (was {'on' if recorded.gan else 'off'})", flush=True)
        trainer.load(ckpt)
        train_seconds = float(ckpt.meta.get("train_seconds", 0.0))
        rows = _read_loss_log(log_path, ckpt.step)
    _write_loss_log(log_path, rows)  # drops lines written after the checkpoint by a killed session

    version = code_version()
    run_meta = {
        "preset": preset.as_json(), "identities": trainer.identities, "options": options.as_json(),
        "data": data, "code_version": version, "torch": torch.__version__,
    }
    write_json_atomic(run_dir / RUN_FILE, run_meta, sort_keys=True)

    def checkpoint() -> Path:
        tensors, meta = trainer.state()
        meta.update({"train_seconds": train_seconds, "data": data, "code_version": version,
                     "torch": torch.__version__, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        return save_checkpoint(run_dir, trainer.step, tensors, meta)

    def preview() -> None:
        grid = preview_grid(trainer.model, facesets, autocast=trainer.autocast())
        write_png_atomic(run_dir / "preview.png", grid)
        write_png_atomic(run_dir / "previews" / f"step_{trainer.step:08d}.png", grid)
        write_loss_plot(run_dir / "losses.png", rows, f"{preset.name}: {', '.join(trainer.identities)}")

    budget = None if minutes is None else float(minutes) * 60.0

    def done() -> bool:
        return (max_steps is not None and trainer.step >= max_steps) or (budget is not None and train_seconds >= budget)

    from tqdm import tqdm

    bar = tqdm(total=max_steps, initial=trainer.step, unit="it", disable=not progress, dynamic_ncols=True,
               desc=f"swap {preset.name}")
    session_steps, session_seconds = 0, 0.0
    window: dict[str, float] = {}
    window_n, window_s = 0, 0.0
    last: dict[str, float] = {}
    last_ckpt_path = ckpt.path if ckpt is not None else None
    last_ckpt_step = ckpt.step if ckpt is not None else -1
    last_ckpt_t = last_prev_t = time.monotonic()
    interrupted = False
    tuner = ThreadTuner() if threads == "auto" else None
    scope = torch_threads(torch.get_num_threads() if threads == "auto" else threads)  # restores on exit
    log_fh = log_path.open("a", newline="")
    writer = csv.DictWriter(log_fh, fieldnames=LOSS_COLUMNS)
    try:
        with scope, _graceful_sigint() as sig:
            while not done():
                if sig["stop"]:
                    interrupted = True
                    break
                t0 = time.perf_counter()
                losses = tuner.run(trainer.train_step) if tuner else trainer.train_step()
                dt = time.perf_counter() - t0
                train_seconds += dt
                session_seconds += dt
                session_steps += 1
                window_n += 1
                window_s += dt
                for k, v in losses.items():
                    window[k] = window.get(k, 0.0) + v
                if window_n >= log_every or done():
                    last = {k: v / window_n for k, v in window.items()}
                    row = {"step": trainer.step, "train_seconds": round(train_seconds, 2), **last,
                           "it_per_s": window_n / max(window_s, 1e-9), "threads": torch.get_num_threads()}
                    rows.append(row)
                    writer.writerow({k: _fmt(row[k]) for k in LOSS_COLUMNS})
                    log_fh.flush()
                    window, window_n, window_s = {}, 0, 0.0
                    post = {"recon": f"{last['recon']:.4f}", "thr": torch.get_num_threads()}
                    if trainer.gan_active():
                        post.update(g=f"{last['g_adv']:.3f}", d=f"{last['d']:.3f}")
                        if options.feature_matching > 0:
                            post["fm"] = f"{last['fm']:.3f}"
                    if budget is not None:
                        left = max(0.0, budget - train_seconds)
                        post["left"] = time.strftime("%H:%M:%S", time.gmtime(left))
                        if max_steps is None and session_seconds > 0:
                            rate = session_steps / session_seconds
                            bar.total = trainer.step + math.ceil(left * rate)
                    bar.set_postfix(post, refresh=False)
                bar.update(1)
                now = time.monotonic()
                if (checkpoint_steps and trainer.step % checkpoint_steps == 0) or now - last_ckpt_t >= checkpoint_minutes * 60:
                    last_ckpt_path, last_ckpt_step = checkpoint(), trainer.step
                    last_ckpt_t = time.monotonic()
                if now - last_prev_t >= preview_minutes * 60:
                    preview()
                    last_prev_t = time.monotonic()
    finally:
        log_fh.close()
        bar.close()
    if last_ckpt_step != trainer.step:
        last_ckpt_path = checkpoint()
    preview()
    return TrainResult(
        run_dir=run_dir, step=trainer.step, train_seconds=train_seconds, session_steps=session_steps,
        session_it_per_s=session_steps / session_seconds if session_seconds else 0.0,
        checkpoint=last_ckpt_path, losses=last, interrupted=interrupted,
    )


def resume_defaults(
    run_dir: Path | None, preset: str | Preset | None, gan: bool | None, gan_start_step: int | None,
    feature_matching: float | None,
) -> tuple[str | Preset, bool, float]:
    """Preset, GAN switch and feature-matching weight for :func:`train_swap`: each one given wins;
    one left as None is the checkpoint's of ``run_dir`` (a resumed run), else the new-run default
    (quick preset, GAN on, no feature matching). A start step given for a run trained without the
    GAN switches it on."""
    meta = None if run_dir is None else load_checkpoint_meta(run_dir)
    recorded = None if meta is None else TrainOptions.from_json(meta["options"])
    if preset is None:
        preset = "quick" if meta is None else str(meta["preset"]["name"])
    if gan is None:
        gan = True if recorded is None or gan_start_step is not None else recorded.gan
    if feature_matching is None:
        feature_matching = 0.0 if recorded is None else recorded.feature_matching
    return preset, gan, feature_matching


def train_swap(
    identities: dict[str, Path],
    out_dir: Path,
    preset: str | Preset | None = None,
    minutes: float | None = None,
    resume: bool = False,
    progress: bool = True,
    *,
    max_steps: int | None = None,
    seed: int = 0,
    gan: bool | None = None,
    gan_loss: GanKind = "lsgan",
    gan_start_step: int | None = None,
    feature_matching: float | None = None,
    precision: str = "auto",
    frame_stride: int = 1,
    max_faces: int = 5000,
    checkpoint_minutes: float = 5.0,
    preview_minutes: float = 3.0,
    threads: int | Literal["auto"] | None = "auto",
) -> TrainResult:
    """Train a face-swap model on ``identities`` (name -> video file or folder) into ``out_dir``.

    With ``resume=True`` the run continues as it was trained: what is left as None (identities,
    preset, the GAN switch, its start step, feature matching) is taken from the run's checkpoint,
    so resuming an interrupted run needs no flags but ``--resume``. Giving ``gan_start_step`` to a
    run trained without the GAN switches it on. A new run defaults to the quick preset, the GAN on
    at the preset's step and no feature matching.
    """
    out_dir = Path(out_dir)
    preset, gan, feature_matching = resume_defaults(out_dir if resume else None, preset, gan, gan_start_step,
                                                    feature_matching)
    if feature_matching < 0:
        raise ValueError(f"--feature-matching must be >= 0 (a loss weight), got {feature_matching}")
    if feature_matching > 0 and not gan:
        raise ValueError("--feature-matching works through the discriminator: drop --no-gan (and set --gan-start)")
    p = preset if isinstance(preset, Preset) else get_preset(preset)
    if resume and not identities and (out_dir / RUN_FILE).exists():
        import json

        recorded = json.loads((out_dir / RUN_FILE).read_text())
        identities = {}
        for name in recorded["identities"]:
            srcs = recorded["data"][name]["sources"]
            identities[name] = Path(srcs[0]) if len(srcs) == 1 else Path(_common_folder(srcs))
    if len(identities) < 2:
        raise ValueError("give at least two identities, e.g. --identity alice=alice.mp4 --identity bob=bob_photos/")
    facesets = {}
    for name, src in identities.items():
        facesets[name] = build_faceset(name, Path(src), out_dir / "faces", p.size, p.margin, p.shift_y,
                                       frame_stride=frame_stride, max_faces=max_faces, progress=progress)
        if progress:
            print(f"{name}: {len(facesets[name])} faces from {src}")
    options = TrainOptions(seed=seed, gan=gan, gan_loss=gan_loss, gan_start_step=gan_start_step,
                           feature_matching=feature_matching, precision=precision)
    return train_facesets(facesets, out_dir, p, options, minutes=minutes, max_steps=max_steps, resume=resume,
                          progress=progress, checkpoint_minutes=checkpoint_minutes, preview_minutes=preview_minutes,
                          threads=threads)


def _common_folder(paths: list[str]) -> str:
    import os

    return os.path.commonpath(paths)
