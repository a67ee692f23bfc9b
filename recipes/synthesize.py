"""Persona-driven synthesis.

Usage: python recipes/synthesize.py recipes/examples/synthesize.yaml [--key value ...]
"""

from tulu_recipes.config import run_cli
from tulu_recipes.pipelines.synthesize_stage import main

if __name__ == "__main__":
    run_cli(main)
