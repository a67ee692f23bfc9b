"""Reward-model stage: `tulu-recipes reward-model recipe.yaml` (or `python recipes/reward_model.py recipe.yaml`).

Trains a 1-label sequence classifier from the SFT model on a preference mixture. The saved model is what the RLVR
stage loads as its PPO value model: `AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)`.
"""

from __future__ import annotations

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase, set_seed
from trl import ModelConfig, RewardTrainer, get_peft_config

from tulu_recipes.config import parse_recipe, run_cli, save_recipe
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.common import (
    load_stage_data,
    load_tokenizer,
    mixture_seed,
    template_for,
    train_and_save,
    trainer_datasets,
)
from tulu_recipes.trainers.fault_tolerance import fault_tolerance_callbacks
from tulu_recipes.trainers.reward_model import TuluRewardConfig

PREFERENCE_COLUMNS = ["prompt", "chosen", "rejected"]


def load_reward_model(model_args: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """The causal LM's backbone with a fresh scalar head (`num_labels=1`), sized for the tokenizer's pad token."""
    dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        num_labels=1,
        dtype=dtype,
        attn_implementation=model_args.attn_implementation,
        trust_remote_code=getattr(model_args, "trust_remote_code", False),
    )
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=8)
    # The classifier scores the last non-pad token, so it must know the pad id.
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


RECIPE_TYPES = [TuluScriptArguments, TuluRewardConfig, ModelConfig]


def main(argv: list[str] | None = None) -> RewardTrainer:
    script_args, training_args, model_args = parse_recipe(RECIPE_TYPES, argv)
    save_recipe(training_args.output_dir, script_args, training_args, model_args)
    set_seed(training_args.seed)  # model init (new heads) and data mixing are seeded, not only training

    template = template_for(script_args, model_args)
    tokenizer = load_tokenizer(model_args, template, training=False)
    data = load_stage_data(script_args, mixture_seed(training_args), "preference", training_args.output_dir)

    trainer = RewardTrainer(
        model=load_reward_model(model_args, tokenizer),
        args=training_args,
        **trainer_datasets(data, PREFERENCE_COLUMNS),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=fault_tolerance_callbacks(script_args.max_nonfinite_steps),
    )
    return train_and_save(trainer, tokenizer, template, script_args, training_args, model_args)


if __name__ == "__main__":
    run_cli(main)
