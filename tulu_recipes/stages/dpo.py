"""DPO stage: `tulu-recipes dpo recipe.yaml` (or `accelerate launch -m tulu_recipes.stages.dpo recipe.yaml`).

Starts from the SFT model: its tokenizer (with the `<pad>` token SFT added) is reused, and the recipe's
`chat_template` selects the template by name (the inference text; DPO needs no generation markers because TRL
derives the completion mask from the rendered prompt). The preference mixture goes through the same mixer and
filters as SFT.
"""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import set_seed
from trl import ModelConfig, get_peft_config

from tulu_recipes.chat_templates import ChatTemplate
from tulu_recipes.config import parse_recipe, run_cli
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
from tulu_recipes.trainers.dpo import TuluDPOConfig, TuluDPOTrainer
from tulu_recipes.trainers.fault_tolerance import fault_tolerance_callbacks

logger = logging.getLogger("tulu_recipes")
PREFERENCE_COLUMNS = ["prompt", "chosen", "rejected"]


def warn_on_template_change(model_path: str | None, template: ChatTemplate) -> None:
    """The SFT checkpoint saved the template it was trained with; DPO on another template is usually a mistake."""
    saved = Path(model_path or "") / "chat_template.jinja"
    if saved.is_file() and saved.read_text(encoding="utf-8") not in (template.inference, template.training):
        logger.warning(
            "The chat template saved with %s differs from the recipe's `chat_template: %s`; DPO will use the "
            "recipe's template.",
            model_path,
            template.name,
        )


RECIPE_TYPES = [TuluScriptArguments, TuluDPOConfig, ModelConfig]


def main(argv: list[str] | None = None) -> TuluDPOTrainer:
    script_args, training_args, model_args = parse_recipe(RECIPE_TYPES, argv)
    refuse_finished_run(script_args, training_args)
    check_stage(model_args, training_args)
    setup_distributed(training_args)  # before any model: ZeRO-3 loads it under zero.Init
    set_seed(training_args.seed)  # model init (new heads) and data mixing are seeded, not only training

    template = template_for(script_args, model_args)
    warn_on_template_change(model_args.model_name_or_path, template)
    tokenizer = load_tokenizer(model_args, template, training=False)
    data = load_stage_data(
        script_args, mixture_seed(training_args), "preference", None, report_dir=training_args.output_dir
    )

    trainer = TuluDPOTrainer(
        model=load_causal_lm(model_args, tokenizer, training_args),
        args=training_args,
        **trainer_datasets(data, PREFERENCE_COLUMNS),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=fault_tolerance_callbacks(script_args.max_nonfinite_steps),
    )
    return train_and_save(trainer, tokenizer, template, script_args, training_args, model_args, stage="dpo", data=data)


if __name__ == "__main__":
    run_cli(main)
