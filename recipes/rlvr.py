"""RLVR: `python recipes/rlvr.py recipe.yaml [--key value ...]` or `accelerate launch recipes/rlvr.py recipe.yaml`."""

from tulu_recipes.config import run_cli
from tulu_recipes.stages.rlvr import main

if __name__ == "__main__":
    run_cli(main)
