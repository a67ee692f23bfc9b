"""Reward-model stage: `tulu-recipes reward-model recipe.yaml` (or `python recipes/reward_model.py recipe.yaml`).

Trains a 1-label sequence classifier from the SFT model on a preference mixture. The saved model is what the RLVR
stage loads as its PPO value model: `AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)`.
"""

from __future__ import annotations

from trl import ModelConfig, RewardTrainer

from tulu_recipes.config import run_cli
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.skeleton import check_recipe, prepare
from tulu_recipes.trainers.reward_model import TuluRewardConfig, init_score_head

PREFERENCE_COLUMNS = ["prompt", "chosen", "rejected"]
RECIPE_TYPES = [TuluScriptArguments, TuluRewardConfig, ModelConfig]


def main(argv: list[str] | None = None) -> RewardTrainer:
    configs = check_recipe(RECIPE_TYPES, argv)
    run = prepare(configs, "preference")
    model = run.load_model(scalar_head=True)
    # The release's N(0, 1/sqrt(hidden + 1)) head, drawn only when the checkpoint had no trained one.
    saved_as = model.config.architectures or []
    if run.training_args.init_score_head and not any(a.endswith("ForSequenceClassification") for a in saved_as):
        init_score_head(model, run.training_args.seed)
    trainer = RewardTrainer(model=model, **run.trainer_kwargs(PREFERENCE_COLUMNS))
    return run.train_and_save(trainer, "reward_model")


if __name__ == "__main__":
    run_cli(main)
