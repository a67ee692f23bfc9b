"""Evaluation: `python recipes/evaluate.py recipe.yaml [--key value ...]` (GSM8K, MATH, IFEval, local JSONL)."""

from tulu_recipes.config import run_cli
from tulu_recipes.stages.evaluate import main

if __name__ == "__main__":
    run_cli(main)
