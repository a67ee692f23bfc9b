"""SFT stage: `tulu-recipes sft recipe.yaml` (or `accelerate launch -m tulu_recipes.stages.sft recipe.yaml`)."""

from __future__ import annotations

from transformers import set_seed
from trl import ModelConfig, get_peft_config

from tulu_recipes.chat_templates import MODEL, require_generation_markers
from tulu_recipes.config import RecipeError, parse_recipe, run_cli
from tulu_recipes.distributed import setup_distributed
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.common import (
    load_causal_lm,
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
from tulu_recipes.trainers.sft import TuluSFTConfig, TuluSFTTrainer

RECIPE_TYPES = [TuluScriptArguments, TuluSFTConfig, ModelConfig]


def main(argv: list[str] | None = None) -> TuluSFTTrainer:
    script_args, training_args, model_args = parse_recipe(RECIPE_TYPES, argv)
    refuse_finished_run(script_args, training_args)
    check_stage(model_args, training_args)
    setup_distributed(training_args)  # before any model: ZeRO-3 loads it under zero.Init
    set_seed(training_args.seed)  # model init (new heads) and data mixing are seeded, not only training

    template = template_for(script_args, model_args)
    if training_args.assistant_only_loss and template.name == MODEL:  # a path: TRL checks (and patches) it
        try:
            require_generation_markers(template)
        except ValueError as err:
            raise RecipeError(str(err)) from None
    tokenizer = load_tokenizer(model_args, template, training=True)
    data = load_stage_data(script_args, mixture_seed(training_args), "sft", None, report_dir=training_args.output_dir)

    trainer = TuluSFTTrainer(
        model=load_causal_lm(model_args, tokenizer, training_args),
        args=training_args,
        **trainer_datasets(data, ["messages"]),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=fault_tolerance_callbacks(script_args.max_nonfinite_steps),
    )
    return train_and_save(trainer, tokenizer, template, script_args, training_args, model_args, stage="sft", data=data)


if __name__ == "__main__":
    run_cli(main)
