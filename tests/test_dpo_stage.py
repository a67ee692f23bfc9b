"""The DPO stage end to end on the tiny model: recipe in, model and reference log-probs out; resume reuses them."""

from __future__ import annotations

import json

import pytest
from trl import DPOTrainer

from tulu_recipes.chat_templates import load_chat_template
from tulu_recipes.config import parse_recipe
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages import dpo as dpo_stage
from tulu_recipes.trainers.dpo import TuluDPOConfig, TuluDPOTrainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", ["tulu3-8b/dpo.yaml", "tulu3-70b/dpo.yaml", "quickstart/dpo.yaml"])
def test_shipped_recipes_parse_with_paper_settings(repo_root, name):
    from trl import ModelConfig

    script, args, model = parse_recipe(
        [TuluScriptArguments, TuluDPOConfig, ModelConfig], [str(repo_root / "recipes" / name), "--use_cpu", "true"]
    )
    assert args.loss_type == ["sigmoid_norm"] and args.beta == 5.0 and args.precompute_ref_log_probs
    if name.startswith("tulu3"):
        gpus = 8 if "8b" in name else 64
        assert args.per_device_train_batch_size * args.gradient_accumulation_steps * gpus == 128
        assert args.learning_rate == (5e-7 if "8b" in name else 2e-7)
        assert (args.max_length, args.warmup_steps, args.num_train_epochs) == (2048, 0.1, 1.0)
        assert model.dtype == "bfloat16" and args.gradient_checkpointing
        assert script.mixture_sources()[0]["path"].endswith("-preference-mixture")
    else:
        assert model.model_name_or_path == "outputs/quickstart/sft"


def test_stage_trains_saves_and_resume_reuses_reference_logprobs(tmp_path, tiny_base, quickstart_dir, monkeypatch):
    recipe = tmp_path / "dpo.yaml"
    recipe.write_text(
        (quickstart_dir / "dpo.yaml")
        .read_text()
        .replace("./data/preferences.jsonl", str(quickstart_dir / "data" / "preferences.jsonl"))
        .replace("fraction: 1.0", "count: 24")
    )
    out = tmp_path / "dpo"
    argv = [str(recipe), "--model_name_or_path", str(tiny_base), "--output_dir", str(out), "--disable_tqdm", "true"]
    argv += ["--per_device_train_batch_size", "8", "--max_steps", "2", "--logging_steps", "1"]
    argv += ["--save_strategy", "steps", "--save_steps", "1"]

    trainer = dpo_stage.main(argv)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 2 and all("rewards_norm/margins" in h for h in logged)
    assert (out / "model.safetensors").is_file() and (out / "mixture.md").is_file() and (out / "recipe.yaml").is_file()
    assert (out / "chat_template.jinja").read_text() == load_chat_template("tulu").inference
    cached = list((out / "ref_logprobs").glob("*.pt"))
    assert len(cached) == 1
    assert json.loads(cached[0].with_suffix(".json").read_text())["rows"] == 24

    # Resume from checkpoint-1: the trainer is rebuilt, and the reference pass is read back, not rerun.
    passes = {"trl_precompute": 0, "ref_forward": 0}

    def count(key, fn):
        def wrapper(*args, **kwargs):
            passes[key] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(DPOTrainer, "_precompute_ref_logps", count("trl_precompute", DPOTrainer._precompute_ref_logps))
    monkeypatch.setattr(TuluDPOTrainer, "compute_ref_log_probs", count("ref_forward", DPOTrainer.compute_ref_log_probs))
    resumed = dpo_stage.main(argv + ["--resume_from_checkpoint", str(out / "checkpoint-1")])
    assert passes == {"trl_precompute": 0, "ref_forward": 0}
    assert resumed.state.global_step == 2
    assert list(resumed.train_dataset["ref_chosen_logps"]) == list(trainer.train_dataset["ref_chosen_logps"])
