"""``main(argv)`` of the generation stages with the executor keys: the stage's recipe plus ``ExecutorConfig``.

``executor: embedded`` (the default) runs the stage's own function and prints what its module's ``main`` prints;
any other executor runs ``generation.run_generation``. ``tulu-recipes <stage>`` and ``recipes/<stage>.py`` land
here (through ``pipelines/<stage>_stage.py``); ``python -m tulu_recipes.generation.<stage>`` stays embedded only.
"""

from __future__ import annotations

import logging
from typing import Any

from tulu_recipes.config import parse_recipe
from tulu_recipes.generation.if_preferences import IFPreferencesConfig, generate_if_preferences
from tulu_recipes.generation.if_preferences import print_summary as if_preferences_summary
from tulu_recipes.generation.preferences import PreferencesConfig, generate_preferences
from tulu_recipes.generation.preferences import print_summary as preferences_summary
from tulu_recipes.generation.synthesize import SynthesizeConfig, synthesize
from tulu_recipes.generation.synthesize import print_summary as synthesize_summary

from .executors import ExecutorConfig


def _parse(config_cls: type, argv: list[str] | None) -> tuple[Any, ExecutorConfig]:
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config, executor = parse_recipe([config_cls, ExecutorConfig], list(sys.argv[1:] if argv is None else argv))
    return config, executor


def _datatrove(stage: str, config: Any, executor: ExecutorConfig) -> dict[str, Any]:
    from .generation import run_generation

    return {"run_dir": str(run_generation(stage, config, executor))}


def synthesize_main(argv: list[str] | None = None) -> dict[str, Any]:
    config, executor = _parse(SynthesizeConfig, argv)
    if executor.executor != "embedded":
        return _datatrove("synthesize", config, executor)
    stats = synthesize(config)
    synthesize_summary(stats, config)
    return stats


def preferences_main(argv: list[str] | None = None) -> dict[str, Any]:
    config, executor = _parse(PreferencesConfig, argv)
    if executor.executor != "embedded":
        return _datatrove("preferences", config, executor)
    stats = generate_preferences(config)
    preferences_summary(stats)
    return stats


def if_preferences_main(argv: list[str] | None = None) -> dict[str, Any]:
    config, executor = _parse(IFPreferencesConfig, argv)
    if executor.executor != "embedded":
        return _datatrove("if-preferences", config, executor)
    stats = generate_if_preferences(config)
    if_preferences_summary(stats)
    return stats
