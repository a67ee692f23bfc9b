"""`tulu-recipes synthesize`: Persona-driven synthesis, embedded or on datatrove (`pipelines.cli`)."""

from tulu_recipes.pipelines.cli import synthesize_main as main

__all__ = ["main"]

if __name__ == "__main__":
    from tulu_recipes.config import run_cli

    run_cli(main)
