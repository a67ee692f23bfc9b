"""Reward-model stage: `tulu-recipes reward-model recipe.yaml` (or `python recipes/reward_model.py recipe.yaml`).

Trains a 1-label sequence classifier from the SFT model on a preference mixture. The saved model is what the RLVR
stage loads as its PPO value model: `AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)`.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel, PreTrainedTokenizerBase, set_seed
from trl import ModelConfig, RewardTrainer, get_peft_config

from tulu_recipes.config import parse_recipe, run_cli
from tulu_recipes.distributed import check_master_weights, setup_distributed, trainable_dtype
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.common import (
    load_stage_data,
    load_tokenizer,
    mixture_seed,
    refuse_finished_run,
    template_for,
    train_and_save,
    trainer_datasets,
)
from tulu_recipes.stages.preflight import check_stage
from tulu_recipes.trainers.fault_tolerance import fault_tolerance_callbacks
from tulu_recipes.trainers.reward_model import TuluRewardConfig, init_score_head

PREFERENCE_COLUMNS = ["prompt", "chosen", "rejected"]


def load_reward_model(
    model_args: ModelConfig, tokenizer: PreTrainedTokenizerBase, training_args: Any = None
) -> PreTrainedModel:
    """The causal LM's backbone with a fresh scalar head (`num_labels=1`), sized for the tokenizer's pad token;
    with `training_args`, loaded with fp32 master weights as `tulu_recipes.distributed.trainable_dtype` says."""
    dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
    if training_args is not None:
        dtype = trainable_dtype(model_args.dtype, training_args, peft=bool(model_args.use_peft))
    model = AutoModelForSequenceClassification.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        num_labels=1,
        dtype=dtype,
        attn_implementation=model_args.attn_implementation,
        trust_remote_code=getattr(model_args, "trust_remote_code", False),
    )
    embedding = model.get_input_embeddings().weight
    # Under ZeRO-3 the local tensor is an empty partition; ds_shape is the full one.
    if len(tokenizer) > getattr(embedding, "ds_shape", embedding.shape)[0]:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=8)
    # The classifier scores the last non-pad token, so it must know the pad id.
    model.config.pad_token_id = tokenizer.pad_token_id
    if training_args is not None and not model_args.use_peft:
        check_master_weights(model, training_args, "reward model")
    return model


RECIPE_TYPES = [TuluScriptArguments, TuluRewardConfig, ModelConfig]


def main(argv: list[str] | None = None) -> RewardTrainer:
    script_args, training_args, model_args = parse_recipe(RECIPE_TYPES, argv)
    refuse_finished_run(script_args, training_args)
    check_stage(model_args, training_args)
    setup_distributed(training_args)  # before any model: ZeRO-3 loads it under zero.Init
    set_seed(training_args.seed)  # model init (new heads) and data mixing are seeded, not only training

    template = template_for(script_args, model_args)
    tokenizer = load_tokenizer(model_args, template, training=False)
    data = load_stage_data(
        script_args, mixture_seed(training_args), "preference", None, report_dir=training_args.output_dir
    )

    model = load_reward_model(model_args, tokenizer, training_args)
    # The release's N(0, 1/sqrt(hidden + 1)) head, drawn only when the checkpoint had no trained one.
    saved_as = model.config.architectures or []
    if training_args.init_score_head and not any(a.endswith("ForSequenceClassification") for a in saved_as):
        init_score_head(model, training_args.seed)
    trainer = RewardTrainer(
        model=model,
        args=training_args,
        **trainer_datasets(data, PREFERENCE_COLUMNS),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=fault_tolerance_callbacks(script_args.max_nonfinite_steps),
    )
    return train_and_save(
        trainer, tokenizer, template, script_args, training_args, model_args, stage="reward_model", data=data
    )


if __name__ == "__main__":
    run_cli(main)
