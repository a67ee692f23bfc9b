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
from .inference_config import InferenceRunnerConfig, check_stage


def _parse(config_cls: type, argv: list[str] | None, stage: str) -> tuple[Any, ExecutorConfig, InferenceRunnerConfig]:
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    config, executor, inference = parse_recipe([config_cls, ExecutorConfig, InferenceRunnerConfig], argv)
    check_stage(stage, config, executor, inference)
    return config, executor, inference


def _datatrove(stage: str, config: Any, executor: ExecutorConfig, inference: InferenceRunnerConfig) -> dict[str, Any]:
    from .generation import run_generation

    served = inference if inference.inference_server else None
    return {"run_dir": str(run_generation(stage, config, executor, served))}


def synthesize_main(argv: list[str] | None = None) -> dict[str, Any]:
    config, executor, inference = _parse(SynthesizeConfig, argv, "synthesize")
    if executor.executor != "embedded":
        return _datatrove("synthesize", config, executor, inference)
    stats = synthesize(config)
    synthesize_summary(stats, config)
    return stats


def preferences_main(argv: list[str] | None = None) -> dict[str, Any]:
    config, executor, inference = _parse(PreferencesConfig, argv, "preferences")
    if executor.executor != "embedded":
        return _datatrove("preferences", config, executor, inference)
    stats = generate_preferences(config)
    preferences_summary(stats)
    return stats


def if_preferences_main(argv: list[str] | None = None) -> dict[str, Any]:
    config, executor, inference = _parse(IFPreferencesConfig, argv, "if-preferences")
    if executor.executor != "embedded":
        return _datatrove("if-preferences", config, executor, inference)
    stats = generate_if_preferences(config)
    if_preferences_summary(stats)
    return stats
