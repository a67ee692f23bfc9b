"""Recipe parsing for the generation CLIs.

Rule: ``argv = [recipe.yaml] [--key value ...]``; YAML values are loaded first, overrides win, unknown
keys are errors. The project-wide ``tulu_recipes.config.parse_recipe`` is used when it exists; the small
fallback below follows the same rules so the CLIs work without it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def parse_config(config_cls: type[T], argv: list[str] | None = None) -> T:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from tulu_recipes.config import parse_recipe
    except ImportError:
        return _parse_fallback(config_cls, argv)
    return parse_recipe([config_cls], argv)[0]


def _parse_fallback(config_cls: type[T], argv: list[str]) -> T:
    values: dict[str, Any] = {}
    if argv and not argv[0].startswith("--"):
        loaded = yaml.safe_load(Path(argv.pop(0)).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise SystemExit("a recipe file must hold a mapping of config keys")
        values.update(loaded)
    while argv:
        token = argv.pop(0)
        if not token.startswith("--"):
            raise SystemExit(f"unexpected argument {token!r}; overrides look like --key value")
        key, sep, raw = token[2:].partition("=")
        if not sep:
            if not argv:
                raise SystemExit(f"--{key} needs a value")
            raw = argv.pop(0)
        values[key.replace("-", "_")] = yaml.safe_load(raw)
    known = {f.name for f in dataclasses.fields(config_cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"unknown {config_cls.__name__} keys: {unknown}")
    try:
        return config_cls(**values)
    except TypeError as err:
        raise SystemExit(f"{config_cls.__name__}: {err}") from err
