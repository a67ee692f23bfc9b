"""IFEval-style verifiable constraints in the open-instruct RLVR ground-truth format.

Rule: a constraint is ``{"func_name": <one of the 25 if_functions names>, <kwargs>}``; kwargs use the exact
argument names of open-instruct's ``if_functions.py`` (``N``, ``quantifier``, ``keyword_list``, ...).
The catalog (instruction text + allowed kwarg values) is ``templates/ifeval_constraints.json``; edit or
replace it.
A kwarg value ``"$prompt"`` stands for the request itself (``validate_repeat_prompt``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from .prompts import template_path

PROMPT_PLACEHOLDER = "$prompt"


def load_catalog(path: str | Path | None = None) -> list[dict[str, Any]]:
    path = Path(path) if path is not None else template_path("ifeval_constraints.json")
    catalog = json.loads(Path(path).read_text(encoding="utf-8"))
    for entry in catalog:
        missing = {"func_name", "instruction", "kwargs"} - set(entry)
        if missing:
            raise ValueError(f"{path}: constraint entry lacks {sorted(missing)}: {entry}")
    return catalog


def _display(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(json.dumps(v, ensure_ascii=False) for v in value)
    return str(value)


def sample_constraint(rng: random.Random, catalog: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Draw one constraint: returns ``(ground_truth_dict, instruction_text)``."""
    entry = rng.choice(catalog)
    kwargs = {name: rng.choice(choices) for name, choices in sorted(entry["kwargs"].items())}
    return {"func_name": entry["func_name"], **kwargs}, instruction_text(entry, kwargs)


def describe(ground_truth: dict[str, Any], catalog: list[dict[str, Any]]) -> str:
    """The catalog's instruction text for a ``{"func_name", <kwargs>}`` constraint (its JSON if not listed)."""
    kwargs = {k: v for k, v in ground_truth.items() if k != "func_name"}
    for entry in catalog:
        if entry["func_name"] == ground_truth.get("func_name"):
            try:
                return instruction_text(entry, kwargs)
            except (KeyError, IndexError, ValueError):
                break
    return json.dumps(ground_truth, ensure_ascii=False, sort_keys=True)


def instruction_text(entry: dict[str, Any], kwargs: dict[str, Any]) -> str:
    """A catalog entry's instruction filled with ``kwargs`` (through the entry's ``display`` names)."""
    shown = {
        name: entry.get("display", {}).get(name, {}).get(str(value), value) if not isinstance(value, list) else value
        for name, value in kwargs.items()
    }
    return entry["instruction"].format(**{name: _display(value) for name, value in shown.items()})


def bind_prompt(ground_truth: dict[str, Any], prompt: str) -> dict[str, Any]:
    """Replace ``"$prompt"`` kwargs by the actual request text."""
    return {key: (prompt if value == PROMPT_PLACEHOLDER else value) for key, value in ground_truth.items()}
