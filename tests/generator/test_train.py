from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from fakescope.core.checkpoint import latest_checkpoint_dir
from generator.faceset import FaceSet
from generator.models import Preset
from generator.train import resume_defaults, train_facesets
from generator.trainer import SwapTrainer, TrainOptions


def _final_state(run: Path) -> dict[str, torch.Tensor]:
    d = latest_checkpoint_dir(run)
    assert d is not None
    return load_file(str(d / "state.safetensors"))


def test_resume_equals_uninterrupted_run(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    # GAN starts at step 2 in the tiny preset, so the resumed half also exercises the discriminator.
    opts = TrainOptions(seed=7)
    straight = train_facesets(two_facesets, tmp_path / "a", tiny_preset, opts, max_steps=4, progress=False)
    first = train_facesets(two_facesets, tmp_path / "b", tiny_preset, opts, max_steps=2, progress=False)
    assert first.step == 2
    resumed = train_facesets(two_facesets, tmp_path / "b", tiny_preset, opts, max_steps=4, resume=True, progress=False)
    assert straight.step == resumed.step == 4 and resumed.session_steps == 2
    a, b = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
    assert a.keys() == b.keys()
    assert any(k.startswith("opt_d.state.") for k in a)  # the discriminator really trained
    for k in a:
        assert torch.equal(a[k], b[k]), k
    meta_a = json.loads((latest_checkpoint_dir(tmp_path / "a") / "state.json").read_text())
    meta_b = json.loads((latest_checkpoint_dir(tmp_path / "b") / "state.json").read_text())
    assert meta_a["rng"] == meta_b["rng"]


def test_different_seed_gives_different_model(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    train_facesets(two_facesets, tmp_path / "a", tiny_preset, TrainOptions(seed=1), max_steps=1, progress=False)
    train_facesets(two_facesets, tmp_path / "b", tiny_preset, TrainOptions(seed=2), max_steps=1, progress=False)
    a, b = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
    assert not torch.equal(a["model.encoder.to_latent.weight"], b["model.encoder.to_latent.weight"])


def test_run_dir_contents_and_refusal_to_overwrite(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, max_steps=3, progress=False, log_every=1)
    for name in ("preview.png", "losses.png", "losses.csv", "run.json"):
        assert (run / name).stat().st_size > 0, name
    meta = json.loads((latest_checkpoint_dir(run) / "state.json").read_text())
    assert meta["seed"] == 0 and meta["step"] == 3 and meta["code_version"]
    assert set(meta["data"]) == {"alice", "bob"} and meta["data"]["alice"]["sha256"]
    assert meta["preset"]["name"] == "tiny"
    rows = list(csv.DictReader((run / "losses.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    with pytest.raises(ValueError, match="--resume"):
        train_facesets(two_facesets, run, tiny_preset, max_steps=5, progress=False)


def test_resume_drops_log_lines_after_the_checkpoint(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, max_steps=2, progress=False, log_every=1)
    with (run / "losses.csv").open("a") as fh:  # what a session killed after its last checkpoint leaves
        fh.write("3,9.0,0.5,0.5,0,0,1.0\n4,9.5,0.5")
    train_facesets(two_facesets, run, tiny_preset, max_steps=3, resume=True, progress=False, log_every=1)
    rows = list(csv.DictReader((run / "losses.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert float(rows[-1]["train_seconds"]) < 9.0


def test_resume_refuses_other_identities(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, max_steps=1, progress=False)
    swapped = {"bob": two_facesets["bob"], "alice": two_facesets["alice"]}
    with pytest.raises(ValueError, match="identities"):
        train_facesets(swapped, run, tiny_preset, max_steps=2, resume=True, progress=False)


@pytest.mark.slow
def test_minutes_is_a_total_budget(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    run = tmp_path / "run"
    r = train_facesets(two_facesets, run, tiny_preset, minutes=0.5 / 60, progress=False)
    assert r.train_seconds >= 0.5 and r.step >= 1
    again = train_facesets(two_facesets, run, tiny_preset, minutes=0.5 / 60, resume=True, progress=False)
    assert again.session_steps == 0 and again.step == r.step  # budget already spent: nothing to do


def test_trainer_rejects_faces_of_the_wrong_size(tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    with pytest.raises(ValueError, match="px"):
        SwapTrainer(replace(tiny_preset, size=32, dec_channels=(4, 4)), two_facesets)


def test_resume_may_switch_the_gan_on_but_nothing_else(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    """An autoencoder-only run gets a GAN phase by resuming with the GAN on from its current step
    (the GAN on/off benchmark forks runs this way); any other option change is still refused."""
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, TrainOptions(gan=False), max_steps=3, progress=False)
    assert not any(k.startswith("opt_d.state.") for k in _final_state(run))  # no discriminator step yet
    with pytest.raises(ValueError, match="options differ"):
        train_facesets(two_facesets, run, tiny_preset, TrainOptions(gan=False, eye_weight=1.0), max_steps=4,
                       resume=True, progress=False)
    gan = TrainOptions(gan=True, gan_start_step=3)
    r = train_facesets(two_facesets, run, tiny_preset, gan, max_steps=5, resume=True, progress=False)
    assert r.step == 5 and r.losses["d"] > 0
    assert any(k.startswith("opt_d.state.") for k in _final_state(run))
    meta = json.loads((latest_checkpoint_dir(run) / "state.json").read_text())
    assert meta["options"]["gan"] and meta["options"]["gan_start_step"] == 3


def test_gan_start_option_overrides_the_preset(tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    t = SwapTrainer(tiny_preset, two_facesets, TrainOptions(gan_start_step=50))
    assert t.gan_start == 50 and not t.gan_active()
    t.step = 50
    assert t.gan_active()
    assert SwapTrainer(tiny_preset, two_facesets).gan_start == tiny_preset.gan_start_step


def test_feature_matching_reaches_the_decoder_and_is_logged(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    """The same seeded step with feature matching on moves the decoders differently than without:
    its gradient reaches them. The term is logged, and zero before the discriminator joins."""
    def decoder_after(opts: TrainOptions, steps: int) -> tuple[dict[str, torch.Tensor], list[dict[str, float]]]:
        t = SwapTrainer(tiny_preset, two_facesets, opts)
        logs = [t.train_step() for _ in range(steps)]
        return {k: v.detach().clone() for k, v in t.model.state_dict().items() if "decoders" in k}, logs

    plain, plain_logs = decoder_after(TrainOptions(seed=3), 3)
    fm, fm_logs = decoder_after(TrainOptions(seed=3, feature_matching=5.0), 3)
    assert [r["fm"] for r in fm_logs[:2]] == [0.0, 0.0]  # GAN joins at step 2 in the tiny preset
    assert fm_logs[2]["fm"] > 0 and all(r["fm"] == 0.0 for r in plain_logs)
    assert any(not torch.equal(plain[k], fm[k]) for k in plain)

    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, TrainOptions(gan=False), max_steps=2, progress=False, log_every=1)
    r = train_facesets(two_facesets, run, tiny_preset, TrainOptions(gan=True, gan_start_step=2, feature_matching=1.0),
                       max_steps=4, resume=True, progress=False, log_every=1)  # the GAN phase may bring it in
    assert r.losses["fm"] > 0
    rows = list(csv.DictReader((run / "losses.csv").open()))
    assert [float(x["fm"]) for x in rows[:2]] == [0.0, 0.0] and float(rows[-1]["fm"]) > 0


def test_resume_keeps_a_loss_log_written_before_feature_matching(tmp_path: Path, tiny_preset: Preset,
                                                                 two_facesets: dict[str, FaceSet]) -> None:
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, max_steps=2, progress=False, log_every=1)
    lines = (run / "losses.csv").read_text().splitlines()  # rewrite it as an older version wrote it
    header = lines[0].split(",")
    i = header.index("fm")
    old = [",".join(c for j, c in enumerate(line.split(",")) if j != i) for line in lines]
    (run / "losses.csv").write_text("\n".join(old) + "\n")
    train_facesets(two_facesets, run, tiny_preset, max_steps=3, resume=True, progress=False, log_every=1)
    rows = list(csv.DictReader((run / "losses.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and rows[0]["fm"] == "0"


def test_feature_matching_without_the_gan_is_refused_before_any_work(tmp_path: Path) -> None:
    from generator.train import train_swap

    with pytest.raises(ValueError, match="drop --no-gan"):
        train_swap({"a": tmp_path / "missing_a", "b": tmp_path / "missing_b"}, tmp_path / "run", gan=False,
                   feature_matching=1.0, progress=False)
    with pytest.raises(ValueError, match=">= 0"):
        train_swap({}, tmp_path / "run", feature_matching=-1.0, progress=False)
    assert not (tmp_path / "run").exists()


def test_resume_keeps_the_runs_own_gan_start(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    """A run whose GAN started early (--gan-start) and is resumed without the flag keeps training
    its discriminator; it must not fall back to the preset's later start."""
    late = replace(tiny_preset, gan_start_step=100)
    run = tmp_path / "run"
    first = train_facesets(two_facesets, run, late, TrainOptions(gan_start_step=1), max_steps=2, progress=False)
    assert first.losses["d"] > 0
    again = train_facesets(two_facesets, run, late, TrainOptions(), max_steps=3, resume=True, progress=False)
    assert again.step == 3 and again.losses["d"] > 0 and again.losses["g_adv"] > 0
    meta = json.loads((latest_checkpoint_dir(run) / "state.json").read_text())
    assert meta["options"]["gan_start_step"] == 1


def test_resume_defaults_come_from_the_checkpoint(tmp_path: Path, tiny_preset: Preset, two_facesets: dict[str, FaceSet]) -> None:
    run = tmp_path / "run"
    train_facesets(two_facesets, run, tiny_preset, TrainOptions(gan=True, gan_start_step=1, feature_matching=0.5),
                   max_steps=1, progress=False)
    assert resume_defaults(run, None, None, None, None) == ("tiny", True, 0.5)
    assert resume_defaults(run, "standard", False, None, 0.0) == ("standard", False, 0.0)  # what is given wins
    assert resume_defaults(None, None, None, None, None) == ("quick", True, 0.0)  # a new run
    plain = tmp_path / "plain"
    train_facesets(two_facesets, plain, tiny_preset, TrainOptions(gan=False), max_steps=1, progress=False)
    assert resume_defaults(plain, None, None, None, None) == ("tiny", False, 0.0)  # stays without the GAN
    assert resume_defaults(plain, None, None, 5, None) == ("tiny", True, 0.0)  # a start step switches it on


def test_swap_train_resume_without_flags_leaves_the_choices_to_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import generator.train
    from fakescope.cli import main

    seen: dict[str, object] = {}
    monkeypatch.setattr(generator.train, "train_swap", lambda *a, **k: seen.update(preset=a[2], **k) or "done")
    assert main(["swap", "train", "--out", str(tmp_path / "run"), "--resume", "--minutes", "60"]) == 0
    assert (seen["preset"], seen["gan"], seen["gan_start_step"], seen["feature_matching"], seen["resume"]) == (
        None, None, None, None, True)
    assert main(["swap", "train", "--out", str(tmp_path / "run"), "--resume", "--no-gan"]) == 0
    assert seen["gan"] is False
