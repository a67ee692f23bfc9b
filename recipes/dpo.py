"""DPO: `python recipes/dpo.py recipe.yaml [--key value ...]` or `accelerate launch recipes/dpo.py recipe.yaml`."""

from tulu_recipes.config import run_cli
from tulu_recipes.stages.dpo import main

if __name__ == "__main__":
    run_cli(main)
