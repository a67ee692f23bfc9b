"""Persona-IF preference pairs (relaxed-constraint rejected answers).

Usage: python recipes/if_preferences.py recipes/examples/if_preferences.yaml [--key value ...]
"""

from tulu_recipes.config import run_cli
from tulu_recipes.pipelines.if_preferences_stage import main

if __name__ == "__main__":
    run_cli(main)
