"""Model soup: `python recipes/soup.py --models A B [--weights 1 2] --output_dir SOUP` (or a YAML recipe)."""

from tulu_recipes.config import run_cli
from tulu_recipes.stages.soup import main

if __name__ == "__main__":
    run_cli(main)
