"""Decontaminate training data against evaluation sets: `python recipes/decontaminate.py --help`."""

from tulu_recipes.config import run_cli
from tulu_recipes.stages.decontaminate import main

if __name__ == "__main__":
    run_cli(main)
