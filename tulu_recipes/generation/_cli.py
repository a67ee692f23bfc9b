"""Recipe parsing for the generation CLIs: the project's strict `parse_recipe`, one config class each."""

from __future__ import annotations

import sys
from typing import TypeVar

from tulu_recipes.config import parse_recipe

T = TypeVar("T")


def parse_config(config_cls: type[T], argv: list[str] | None = None) -> T:
    """``argv = [recipe.yaml] [--key value ...]``: YAML values first, overrides win, unknown keys are errors."""
    return parse_recipe([config_cls], list(sys.argv[1:] if argv is None else argv))[0]
