"""LLM-judged preference data.

Usage: python recipes/preferences.py recipes/examples/preferences.yaml [--key value ...]
"""

from tulu_recipes.config import run_cli
from tulu_recipes.pipelines.preferences_stage import main

if __name__ == "__main__":
    run_cli(main)
