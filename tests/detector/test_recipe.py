"""Training recipes as files: a run writes its recipe, the recipe runs again, flags override it."""

import json
from pathlib import Path

import pytest

from detector.io import load_model, weights_root
from detector.train import RECIPE_FILE, TrainConfig, read_recipe, recipe_json
from fakescope.cli import main

from .conftest import build_testset

FAST_FLAGS = ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8", "--input-size", "32", "--quiet"]


def test_the_shipped_default_carries_a_recipe_that_matches_its_weights() -> None:
    arch, cfg = read_recipe(weights_root() / "default" / RECIPE_FILE)
    model = load_model("default")
    assert arch == model.config["arch"] == "meso4_contrast"
    assert cfg.input_size == model.input_size
    assert (cfg.sbi_fraction, cfg.fusion_holdout) == (0.5, True)  # the model card's command line


def test_recipe_round_trips(tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=3, sbi_fraction=0.25, exclude_methods=("warp",), arch_kwargs={"dropout": 0.0})
    path = tmp_path / "r.json"
    path.write_text(json.dumps(recipe_json("meso4", cfg)))
    arch, back = read_recipe(path)
    assert (arch, back) == ("meso4", cfg)


@pytest.mark.parametrize("content, message", [
    ('{"arch": "meso4", "epoch": 3}', "unknown key(s) 'epoch'"),
    ('{"epochs": "3"}', "field 'epochs' must be a whole number"),
    ('{"resume": true}', "belong on the command line"),
    ('{"arch": 3}', "field 'arch' must be an architecture name"),
    ("[1]", "a recipe is a JSON object"),
    ("{not json", "not a JSON recipe"),
])
def test_a_bad_recipe_is_refused_with_the_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="bad.json") as info:
        read_recipe(path)
    assert message in str(info.value)


@pytest.mark.slow
def test_cli_runs_a_recipe_and_flags_override_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = build_testset(tmp_path / "ts", videos_per_split={"train": 2, "val": 2, "test": 2}, frames=4, size=40)
    first = tmp_path / "first"
    assert main(["detector", "train", "--data", str(data), "--out", str(first), "--arch", "meso4",
                 "--arch-kwargs", '{"dropout": 0.0}', "--seed", "3", *FAST_FLAGS]) == 0
    written = json.loads((first / RECIPE_FILE).read_text())
    assert (written["arch"], written["seed"], written["epochs"], written["arch_kwargs"]) == ("meso4", 3, 1, {"dropout": 0.0})

    again = tmp_path / "again"  # the written recipe, with one setting changed on the command line
    assert main(["detector", "train", "--data", str(data), "--out", str(again), "--config", str(first / RECIPE_FILE),
                 "--seed", "4", "--quiet"]) == 0
    rerun = json.loads((again / RECIPE_FILE).read_text())
    assert rerun == {**written, "seed": 4}


def test_cli_without_an_architecture_or_with_a_bad_recipe_exits_2(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detector", "train", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--arch" in capsys.readouterr().err
    (tmp_path / "r.json").write_text('{"arch": "meso4", "sbi": 0.5}')
    assert main(["detector", "train", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--config", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key(s) 'sbi'" in err[0]
    assert not (tmp_path / "o").exists()


def test_init_none_on_the_command_line_drops_a_recipes_pretrained_features(tmp_path: Path) -> None:
    from fakescope.cli import build_parser
    from fakescope.cli.detector import resolve_recipe

    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(recipe_json("meso4_contrast", TrainConfig(init="models/ssl"))))
    parser = build_parser()
    base = ["detector", "train", "--data", "ts", "--out", "o", "--config", str(recipe)]
    assert resolve_recipe(parser.parse_args(base))[1].init == "models/ssl"
    assert resolve_recipe(parser.parse_args([*base, "--init", "none"]))[1].init is None
    assert resolve_recipe(parser.parse_args([*base, "--init", "other"]))[1].init == "other"


def test_lr_on_the_command_line_overrides_the_recipes(tmp_path: Path) -> None:
    from fakescope.cli import build_parser
    from fakescope.cli.detector import resolve_recipe

    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(recipe_json("meso4_contrast", TrainConfig(lr=2e-3))))
    base = ["detector", "train", "--data", "ts", "--out", "o", "--config", str(recipe)]
    parser = build_parser()
    assert resolve_recipe(parser.parse_args(base))[1].lr == 2e-3
    assert resolve_recipe(parser.parse_args([*base, "--lr", "1e-4"]))[1].lr == 1e-4


def test_match_detail_on_the_command_line_joins_the_recipes_augmentation(tmp_path: Path) -> None:
    from fakescope.cli import build_parser
    from fakescope.cli.detector import resolve_recipe

    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(recipe_json("meso4_contrast", TrainConfig())))
    base = ["detector", "train", "--data", "ts", "--out", "o", "--config", str(recipe)]
    parser = build_parser()
    kept = resolve_recipe(parser.parse_args(base))[1].augment
    got = resolve_recipe(parser.parse_args([*base, "--match-detail", "0.5"]))[1].augment
    assert kept.match_detail == 0.0 and got.match_detail == 0.5 and got.jpeg_quality == kept.jpeg_quality
