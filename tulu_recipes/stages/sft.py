"""SFT stage: `tulu-recipes sft recipe.yaml` (or `accelerate launch -m tulu_recipes.stages.sft recipe.yaml`)."""

from __future__ import annotations

from trl import ModelConfig

from tulu_recipes.chat_templates import MODEL, ChatTemplate, require_generation_markers
from tulu_recipes.config import RecipeError, run_cli
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.skeleton import check_recipe, prepare
from tulu_recipes.trainers.sft import TuluSFTConfig, TuluSFTTrainer

RECIPE_TYPES = [TuluScriptArguments, TuluSFTConfig, ModelConfig]


def main(argv: list[str] | None = None) -> TuluSFTTrainer:
    configs = check_recipe(RECIPE_TYPES, argv)
    _, training_args, _ = configs

    def markers_for_assistant_only_loss(template: ChatTemplate) -> None:
        if training_args.assistant_only_loss and template.name == MODEL:  # a path: TRL checks (and patches) it
            try:
                require_generation_markers(template)
            except ValueError as err:
                raise RecipeError(str(err)) from None

    run = prepare(configs, "sft", training_template=True, check_template=markers_for_assistant_only_loss)
    trainer = TuluSFTTrainer(model=run.load_model(), **run.trainer_kwargs(["messages"]))
    return run.train_and_save(trainer, "sft")


if __name__ == "__main__":
    run_cli(main)
