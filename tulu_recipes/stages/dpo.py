"""DPO stage: `tulu-recipes dpo recipe.yaml` (or `accelerate launch -m tulu_recipes.stages.dpo recipe.yaml`).

Starts from the SFT model: its tokenizer (with the `<pad>` token SFT added) is reused, and the recipe's
`chat_template` selects the template by name (the inference text; DPO needs no generation markers because TRL
derives the completion mask from the rendered prompt). The preference mixture goes through the same mixer and
filters as SFT.
"""

from __future__ import annotations

import logging
from pathlib import Path

from trl import ModelConfig

from tulu_recipes.chat_templates import ChatTemplate
from tulu_recipes.config import run_cli
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.skeleton import check_recipe, prepare
from tulu_recipes.trainers.dpo import TuluDPOConfig, TuluDPOTrainer

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
    configs = check_recipe(RECIPE_TYPES, argv)
    model_path = configs[2].model_name_or_path
    run = prepare(configs, "preference", check_template=lambda t: warn_on_template_change(model_path, t))
    trainer = TuluDPOTrainer(model=run.load_model(), **run.trainer_kwargs(PREFERENCE_COLUMNS))
    return run.train_and_save(trainer, "dpo")


if __name__ == "__main__":
    run_cli(main)
