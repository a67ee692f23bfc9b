"""Every shipped recipe parses with its stage's config classes, and the paper recipes carry the paper's numbers."""

from __future__ import annotations

import importlib

import pytest
from trl import ModelConfig

from tulu_recipes.cli import shipped_recipes
from tulu_recipes.config import load_yaml, parse_recipe
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.trainers.sft import TuluSFTConfig

SFT = [TuluScriptArguments, TuluSFTConfig, ModelConfig]


@pytest.mark.parametrize(("name", "lr", "seed"), [("tulu3-8b/sft.yaml", 5e-6, 123), ("tulu3-70b/sft.yaml", 2e-6, 456)])
def test_paper_sft_recipes(repo_root, name, lr, seed):
    recipe = load_yaml(repo_root / "recipes" / name)
    assert recipe["learning_rate"] == lr and recipe["seed"] == seed
    assert recipe["per_device_train_batch_size"] * recipe["gradient_accumulation_steps"] * 64 == 128
    assert (recipe["num_train_epochs"], recipe["warmup_steps"], recipe["max_length"]) == (2, 0.03, 4096)
    assert recipe["loss_reduction"] == "sum" and recipe["dataset_mixer"][0]["path"] == "allenai/tulu-3-sft-mixture"
    # parses strictly; bf16 is switched off here only because this machine has no GPU
    parse_recipe(
        SFT, [str(repo_root / "recipes" / name), "--bf16", "false", "--use_cpu", "true", "--optim", "adamw_torch"]
    )


def test_all_shipped_yaml_files_parse_with_their_stage(repo_root):
    """Each recipe's stage is named by its file name; its keys must all be fields of that stage's configs."""
    stage_of = {"sft": "sft", "dpo": "dpo", "reward_model": "reward_model", "rlvr": "rlvr", "rlvr-grpo": "rlvr"}
    checked = 0
    for name in shipped_recipes():
        stem = name.rsplit("/", 1)[-1].removesuffix(".yaml")
        if stem not in stage_of:
            continue
        module = importlib.import_module(f"tulu_recipes.stages.{stage_of[stem]}")
        types = getattr(module, "RECIPE_TYPES", None)
        if types is None:
            continue
        from tulu_recipes.config import check_recipe

        recipe = load_yaml(repo_root / "recipes" / name)
        recipe.pop("env", None)
        check_recipe(recipe, types, name)
        checked += 1
    assert checked >= 2
