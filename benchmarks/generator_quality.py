"""Swap quality versus training time: train on two identities, render held-out clips, evaluate.

Each identity's clip is split in time: the first ``1 - holdout`` of its frames train the model,
the rest is held out. After each ``--eval-at`` point (total training minutes; training resumes
from the checkpoint in between) the held-out clip of A is rendered as B and the held-out clip of
B as A, and ``evaluate_swap`` measures identity transfer (dlib embedding), expression error and
reconstruction SSIM. Prints a markdown table and writes results.json + strips in ``--out``.
Killing the script and re-running it with the same arguments continues where it stopped.

    .venv/bin/python benchmarks/generator_quality.py --preset quick --minutes 30 --eval-at 10 20 30 \\
        --out /tmp/fakescope_bench/quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import torch

from fakescope.core.atomicio import write_json_atomic
from fakescope.core.checkpoint import load_checkpoint
from fakescope.core.video import iter_frames
from generator.evaluate import evaluate_swap
from generator.render import render_swap
from generator.train import train_swap

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "SadTalker" / "examples" / "ref_video"
DEFAULT_A = DATA / "WDA_AlexandriaOcasioCortez_000.mp4"
DEFAULT_B = DATA / "WDA_KatieHill_000.mp4"


def frame_count(path: Path) -> int:
    return sum(1 for _ in iter_frames(path))


def split_clip(src: Path, train_out: Path, held_out: Path, holdout: float) -> tuple[int, int]:
    """Cut ``src`` by frame index into a training part and a held-out part (H.264 CRF 12 if ffmpeg exists)."""
    n = frame_count(src)
    cut = round(n * (1 - holdout))
    if train_out.exists() and held_out.exists():
        return cut, n - cut
    train_out.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("ffmpeg"):
        for out, expr in ((train_out, f"lt(n\\,{cut})"), (held_out, f"gte(n\\,{cut})")):
            tmp = out.with_name(f".{out.name}")
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf", f"select='{expr}'", "-fps_mode", "passthrough",
                            "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-an", str(tmp)], check=True)
            tmp.replace(out)
    else:
        cap = cv2.VideoCapture(str(src))
        fps = cap.get(cv2.CAP_PROP_FPS)
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        writers = [cv2.VideoWriter(str(o), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h)) for o in (train_out, held_out)]
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            writers[0 if i < cut else 1].write(frame)
            i += 1
        for wr in writers:
            wr.release()
    return cut, n - cut


def branch_of(row: dict) -> str:
    """The row's branch, ae or gan; rows from before --gan-branch-at carry none and go by their GAN flag."""
    return row.get("branch", "gan" if row["gan"] else "ae")


def branch_copy(out: Path, label: str, branch_minutes: float) -> Path:
    """``out/run_<label>``: a copy of the autoencoder run as it was at ``branch_minutes``, made once.

    The autoencoder run must not have trained past the branch point before the first copy, which
    is why main() evaluates it only up to there first.
    """
    fork = out / f"run_{label}"
    if not fork.exists():
        ckpt = load_checkpoint(out / "run")
        if float(ckpt.meta.get("train_seconds", 0.0)) > branch_minutes * 60 + 60:
            raise SystemExit(f"{out / 'run'} has trained past the branch point ({branch_minutes:g} min), so a new "
                             f"branch {label} cannot start there; use a new --out")
        tmp = out / f".run_{label}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(out / "run", tmp)
        write_json_atomic(tmp / "branch.json", {"branch_minutes": branch_minutes, "gan_start_step": ckpt.step})
        tmp.replace(fork)
    return fork


def evaluate_run(args: argparse.Namespace, clips: Path, run: Path, points: list[float], rows: list[dict],
                 *, gan: bool, label: str, skip_eval: frozenset[float] = frozenset(),
                 gan_start: int | None = None, feature_matching: float = 0.0) -> None:
    """Train ``run`` up to each point in ``points`` (total minutes) and evaluate both directions there."""
    results_path = args.out / "results.json"
    done = {(r["minutes"], r["direction"], branch_of(r)) for r in rows}
    for minutes in points:
        if {(minutes, "A>B", label), (minutes, "B>A", label)} <= done:
            continue
        tr = train_swap({"A": clips / "a_train.mp4", "B": clips / "b_train.mp4"}, run, args.preset, minutes=minutes,
                        resume=True, gan=gan, gan_start_step=gan_start, feature_matching=feature_matching)
        if minutes in skip_eval:
            continue
        for src, tgt, held in (("A", "B", clips / "a_heldout.mp4"), ("B", "A", clips / "b_heldout.mp4")):
            tag = f"{label}_{src}to{tgt}_{minutes:g}min"
            rend = render_swap(run, held, tgt, args.out / f"{tag}.mp4", progress=False)
            ev = evaluate_swap(run, held, rend.output, src, tgt, args.out / f"eval_{tag}", progress=False)
            row = {"minutes": minutes, "direction": f"{src}>{tgt}", "branch": label, "steps": tr.step,
                   "train_seconds": round(tr.train_seconds, 1), "it_per_s_session": round(tr.session_it_per_s, 3),
                   "gan": gan, "gan_start_step": gan_start, "feature_matching": feature_matching, "preset": args.preset,
                   "render_fps": round(rend.frames_per_second, 1), **ev.as_json()}
            rows.append(row)
            write_json_atomic(results_path, rows)
            print(f"[{label}, {minutes:g} min, {tr.step} steps] {src}->{tgt}: nearer target {ev.fraction_nearer_target:.0%} "
                  f"(input baseline {ev.baseline_fraction_nearer_target:.0%}), expression error {ev.expression_error}, "
                  f"recon SSIM {ev.recon_ssim:.3f}, strip {ev.strip}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", type=Path, default=DEFAULT_A, help="video of identity A")
    ap.add_argument("--b", type=Path, default=DEFAULT_B, help="video of identity B")
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--minutes", type=float, default=30.0, help="total training minutes")
    ap.add_argument("--eval-at", type=float, nargs="*", default=[], help="also evaluate after these total minutes")
    ap.add_argument("--no-gan", action="store_true")
    ap.add_argument("--gan-branch-at", type=float, default=None, metavar="MIN",
                    help="train without the GAN, and from a copy of the run at MIN minutes also with it")
    ap.add_argument("--feature-matching", type=float, default=0.0, metavar="WEIGHT",
                    help="with --gan-branch-at: a third branch, gan_fm, continues the same copy with the GAN "
                         "and discriminator feature matching of this weight")
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "fakescope_bench" / "generator_quality")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clips = args.out / "clips"
    n_a = split_clip(args.a, clips / "a_train.mp4", clips / "a_heldout.mp4", args.holdout)
    n_b = split_clip(args.b, clips / "b_train.mp4", clips / "b_heldout.mp4", args.holdout)
    print(f"A={args.a.name}: {n_a[0]} train / {n_a[1]} held-out frames; B={args.b.name}: {n_b[0]} / {n_b[1]}")
    results_path = args.out / "results.json"
    rows = json.loads(results_path.read_text()) if results_path.exists() else []
    points = sorted({*args.eval_at, args.minutes})
    branch = args.gan_branch_at
    if branch is None:
        evaluate_run(args, clips, args.out / "run", points, rows, gan=not args.no_gan, label="gan" if not args.no_gan else "ae")
    else:
        # One autoencoder-only run; at ``branch`` minutes a copy continues with the GAN on, so
        # both branches share their first minutes and compare at equal training time.
        before = sorted({*[m for m in points if m <= branch], branch})
        evaluate_run(args, clips, args.out / "run", before, rows, gan=False, label="ae", skip_eval=frozenset({branch} - set(points)))
        after = [m for m in points if m > branch]
        branches = [("gan", 0.0)] + ([("gan_fm", args.feature_matching)] if args.feature_matching > 0 else [])
        forks = {label: branch_copy(args.out, label, branch) for label, _ in branches}  # before "run" trains on
        evaluate_run(args, clips, args.out / "run", after, rows, gan=False, label="ae")
        for label, fm in branches:
            start = json.loads((forks[label] / "branch.json").read_text())["gan_start_step"]
            evaluate_run(args, clips, forks[label], after, rows, gan=True, label=label, gan_start=start, feature_matching=fm)
    print("\n| branch | minutes | steps | direction | nearer target | baseline | dist. to target | dist. to source | expr. error | mouth err | eye err | recon SSIM | sharpness | vs target's faces | faces missing |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (branch_of(r), r["minutes"], r["direction"])):
        def f(v: float | None, fmt: str = ".3f") -> str:
            return "n/a" if v is None else format(v, fmt)

        print(f"| {branch_of(r)} | {r['minutes']:g} | {r['steps']} | {r['direction']} | {r['fraction_nearer_target']:.0%} | "
              f"{r['baseline_fraction_nearer_target']:.0%} | {f(r['mean_distance_to_target'])} | "
              f"{f(r['mean_distance_to_source'])} | {f(r['expression_error'])} | {f(r['mouth_open_error'])} | "
              f"{f(r['eye_open_error'])} | {r['recon_ssim']:.3f} | {f(r.get('sharpness_ratio'), '.2f')} | {f(r.get('sharpness_vs_target_faces'), '.2f')} | "
              f"{r['swapped_faces_missing']} |")


if __name__ == "__main__":
    main()
