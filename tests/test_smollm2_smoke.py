"""Smoke run of the real model: SmolLM2-135M-Instruct (converted from the packaged GGUF) through 2 steps each of
SFT (marked template), DPO, GRPO and PPO, with the shipped recipes/smollm2-135m recipes and `chat_template: model`.
Every saved tokenizer must carry SmolLM2's original template."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from tulu_recipes.config import load_yaml

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "smollm2-135m"
QUICKSTART_DATA = RECIPES.parent / "quickstart" / "data"


def _recipe(tmp: Path, name: str, model: Path, data: Path, rows: int, **overrides) -> Path:
    recipe = load_yaml(RECIPES / name)
    recipe.update(
        model_name_or_path=str(model),
        dataset_mixer=[{"path": str(data), "count": rows}],
        output_dir=str(tmp / name.removesuffix(".yaml")),
        max_steps=2,
        logging_steps=1,
        disable_tqdm=True,
        **overrides,
    )
    path = tmp / name
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def original_template(smollm2) -> str:
    return (smollm2 / "chat_template.jinja").read_text(encoding="utf-8")


def _check_outputs(trainer, original_template: str) -> Path:
    out = Path(trainer.args.output_dir)
    assert trainer.state.global_step == 2
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses and all(math.isfinite(x) for x in losses)
    assert (out / "model.safetensors").is_file()
    assert (out / "chat_template.jinja").read_text(encoding="utf-8") == original_template
    return out


def test_sft_with_the_marked_template(smollm2, original_template, tmp_path, one_torch_thread):
    from tulu_recipes.stages import sft

    recipe = _recipe(tmp_path, "sft.yaml", smollm2, QUICKSTART_DATA / "sft.jsonl", 4,
                     per_device_train_batch_size=2, max_length=128)  # fmt: skip
    trainer = sft.main([str(recipe)])
    tokenizer = trainer.processing_class
    for row in trainer.train_dataset.select(range(2)):
        trained = [t for t in row["labels"] if t != -100]
        # what the marked template trains: the answer and <|im_end|>, nothing of the system/user turns
        assert tokenizer.decode(trained).endswith("<|im_end|>")
        assert "user" not in tokenizer.decode(trained) and tokenizer.decode(trained).count("<|im_end|>") == 1
    _check_outputs(trainer, original_template)


def test_dpo(smollm2, original_template, tmp_path, one_torch_thread):
    from tulu_recipes.stages import dpo

    recipe = _recipe(tmp_path, "dpo.yaml", smollm2, QUICKSTART_DATA / "preferences.jsonl", 4,
                     per_device_train_batch_size=2, max_length=128)  # fmt: skip
    _check_outputs(dpo.main([str(recipe)]), original_template)


def test_grpo(smollm2, original_template, tmp_path, one_torch_thread):
    from tulu_recipes.stages import rlvr

    # at 16 tokens nearly every group scores all -10, so active sampling (tested on the tiny model) is off here
    recipe = _recipe(tmp_path, "rlvr-grpo.yaml", smollm2, RECIPES / "data" / "rlvr_train.jsonl", 4,
                     num_generations=2, per_device_train_batch_size=2, max_completion_length=16,
                     active_sampling=False)  # fmt: skip
    trainer = rlvr.main([str(recipe)])
    _check_outputs(trainer, original_template)
    assert any("rewards/ifeval/mean" in h for h in trainer.state.log_history)


def test_ppo_value_model_from_the_policy(smollm2, original_template, tmp_path, one_torch_thread):
    from tulu_recipes.stages import rlvr

    recipe = _recipe(tmp_path, "rlvr-ppo.yaml", smollm2, RECIPES / "data" / "rlvr_train.jsonl", 4,
                     per_device_train_batch_size=2, max_completion_length=16, num_iterations=1,
                     value_pretrain_max_rollouts=1)  # fmt: skip
    trainer = rlvr.main([str(recipe)])
    out = _check_outputs(trainer, original_template)
    assert (out / "value_model").is_dir()
    assert any("value_pretrain/explained_variance" in h for h in trainer.state.log_history)  # the recipe pretrains


def test_ppo_value_model_from_a_reward_model_on_verifier_judged_pairs(
    smollm2, original_template, tmp_path, monkeypatch, one_torch_thread
):
    """The paper's route in run.sh: reward_model.yaml on the pairs, then rlvr-ppo-rm.yaml's value model from it."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from tulu_recipes.stages import reward_model, rlvr
    from tulu_recipes.trainers.ppo import TuluPPOTrainer

    pairs = QUICKSTART_DATA / "preferences.jsonl"
    rm_recipe = _recipe(tmp_path, "reward_model.yaml", smollm2, pairs, 4, per_device_train_batch_size=2)
    rm_out = Path(reward_model.main([str(rm_recipe)]).args.output_dir)
    rm_head = AutoModelForSequenceClassification.from_pretrained(rm_out, num_labels=1).score.weight
    recipe = _recipe(tmp_path, "rlvr-ppo-rm.yaml", smollm2, RECIPES / "data" / "rlvr_train.jsonl", 4,
                     per_device_train_batch_size=2, max_completion_length=16, num_iterations=1,
                     value_model_path=str(rm_out), value_pretrain_max_rollouts=1)  # fmt: skip
    heads = []
    init = TuluPPOTrainer.__init__

    def record_head(self, *args, **kwargs):
        init(self, *args, **kwargs)
        heads.append(self.value_model.score.weight.detach().clone())

    monkeypatch.setattr(TuluPPOTrainer, "__init__", record_head)
    _check_outputs(rlvr.main([str(recipe)]), original_template)
    assert torch.equal(heads[0], rm_head)  # the value model started as the trained reward model
