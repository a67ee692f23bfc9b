"""Reward model: `python recipes/reward_model.py recipe.yaml [--key value ...]` (or `accelerate launch ...`)."""

from tulu_recipes.config import run_cli
from tulu_recipes.stages.reward_model import main

if __name__ == "__main__":
    run_cli(main)
