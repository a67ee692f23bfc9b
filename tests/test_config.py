"""The recipe system: strict keys with suggestions, types, overrides, relative paths, resolved recipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from trl import ModelConfig

from tulu_recipes.config import RecipeError, parse_recipe, save_recipe
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.trainers.sft import TuluSFTConfig

TYPES = [TuluScriptArguments, TuluSFTConfig, ModelConfig]
BASE = "output_dir: {out}\nuse_cpu: true\nbf16: false\n"


def write(tmp_path: Path, body: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(BASE.format(out=tmp_path / "out") + body)
    return path


def test_yaml_values_and_cli_overrides(tmp_path):
    recipe = write(tmp_path, "learning_rate: 5e-6\nnum_train_epochs: 3\nmodel_name_or_path: m\n")
    script, train, model = parse_recipe(TYPES, [str(recipe), "--num_train_epochs", "1"])
    assert train.learning_rate == 5e-6  # YAML 1.1 would read "5e-6" as a string
    assert train.num_train_epochs == 1  # the command line wins
    assert model.model_name_or_path == "m"
    assert script.chat_template == "tulu"


def test_trl_config_flag_still_works(tmp_path):
    recipe = write(tmp_path, "learning_rate: 1.0e-4\n")
    _, train, _ = parse_recipe(TYPES, ["--config", str(recipe)])
    assert train.learning_rate == 1e-4


def test_paper_defaults(tmp_path):
    _, train, _ = parse_recipe(TYPES, [str(write(tmp_path, ""))])
    assert (train.learning_rate, train.num_train_epochs, train.max_length) == (5e-6, 2.0, 4096)
    assert (train.loss_reduction, train.assistant_only_loss, train.warmup_steps) == ("sum", True, 0.03)


def test_unknown_key_names_file_and_closest_key(tmp_path):
    recipe = write(tmp_path, "learning_rat: 1.0e-5\n")
    with pytest.raises(RecipeError) as err:
        parse_recipe(TYPES, [str(recipe)])
    assert str(err.value) == f"unknown key 'learning_rat' in {recipe}; did you mean 'learning_rate'?"


def test_unknown_cli_key(tmp_path):
    with pytest.raises(
        RecipeError, match="unknown key 'num_train_epoch' in the command line; did you mean 'num_train_epochs'"
    ):
        parse_recipe(TYPES, [str(write(tmp_path, "")), "--num_train_epoch", "1"])


def test_removed_transformers_key_says_what_replaces_it(tmp_path):
    with pytest.raises(RecipeError, match=r"'warmup_ratio' .* use `warmup_steps: 0.1`"):
        parse_recipe(TYPES, [str(write(tmp_path, "warmup_ratio: 0.1\n"))])
    with pytest.raises(RecipeError, match=r"'torch_dtype' .* use `dtype: bfloat16`"):
        parse_recipe(TYPES, [str(write(tmp_path, "torch_dtype: bfloat16\n"))])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("learning_rate: fast\n", "key 'learning_rate' in .* expects float, got 'fast'"),
        ("num_train_epochs: [1]\n", "key 'num_train_epochs' in .* expects float"),
        ("use_cpu: 'yes'\n", "key 'use_cpu' in .* expects bool"),
        ("loss_reduction: avg\n", "key 'loss_reduction' in .* expects .*'mean', 'sum'"),
        ("dataset_mixer: data.jsonl\n", "key 'dataset_mixer' in .* expects"),
    ],
)
def test_wrong_types(tmp_path, body, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe(TYPES, [str(write(tmp_path, body))])


def test_not_a_mapping_and_missing_file(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(RecipeError, match="must be a YAML mapping"):
        parse_recipe(TYPES, [str(bad)])
    with pytest.raises(RecipeError, match="does not exist"):
        parse_recipe(TYPES, [str(tmp_path / "nope.yaml")])


def test_relative_paths_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("TULU_TEST_VAR", raising=False)
    body = (
        "model_name_or_path: ./model\n"
        "dataset_mixer:\n  - {path: ./data/a.jsonl, fraction: 0.5}\n  - {path: org/hub-set, count: 10}\n"
        "env:\n  TULU_TEST_VAR: 'on'\n"
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)
    script, _, model = parse_recipe(TYPES, [str(write(sub, body))])
    assert model.model_name_or_path == str(sub / "model")
    assert script.dataset_mixer == [
        {"path": str(sub / "data/a.jsonl"), "fraction": 0.5},
        {"path": "org/hub-set", "count": 10},
    ]
    assert os.environ["TULU_TEST_VAR"] == "on"


def test_saved_recipe_runs_again_unchanged(tmp_path):
    recipe = write(tmp_path, "learning_rate: 2.0e-5\nmodel_name_or_path: m\ndataset_mixer:\n  - {path: x/y}\n")
    configs = parse_recipe(TYPES, [str(recipe), "--seed", "7"])
    saved = save_recipe(tmp_path / "out", *configs)
    again = parse_recipe(TYPES, [str(saved)])
    for before, after in zip(configs, again, strict=True):
        assert before == after


def test_misspelled_recipe_fails_fast_from_the_shell(tmp_path, repo_root):
    """Acceptance: exit code != 0 and the message, before any model or data is loaded: the recipe also points at a
    model folder and a dataset that do not exist, and the key error still comes first."""
    recipe = (repo_root / "recipes/quickstart/sft.yaml").read_text()
    recipe = recipe.replace("learning_rate:", "learning_rat:").replace("./tiny-base", "./no-such-model")
    recipe = recipe.replace("./data/sft.jsonl", "./no-such-data.jsonl")
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe)
    proc = subprocess.run(
        [sys.executable, str(repo_root / "recipes/sft.py"), str(path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2
    assert f"unknown key 'learning_rat' in {path}; did you mean 'learning_rate'?" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "no-such-model" not in proc.stderr and "no-such-data" not in proc.stderr
    assert not (tmp_path / "outputs").exists()
