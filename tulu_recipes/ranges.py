"""Numeric ranges of recipe fields, checked when a recipe is parsed, before anything is loaded or written.

TRL and transformers accept many out-of-range values and fail later, after the model has loaded (a negative
learning rate raises inside the optimizer), or never (a negative β silently trains toward the reference). One
table here gives each field's valid range, so every stage refuses such a recipe in one line naming the key.
A field of a config this table does not name is left to that config's own checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

Rule = tuple[Callable[[float], bool], str]

_POSITIVE: Rule = (lambda v: v > 0, "> 0")
_NON_NEGATIVE: Rule = (lambda v: v >= 0, ">= 0")
_AT_LEAST_ONE: Rule = (lambda v: v >= 1, ">= 1")
_UNIT: Rule = (lambda v: 0 <= v <= 1, "in [0, 1]")
_OPEN_UNIT: Rule = (lambda v: 0 < v < 1, "in (0, 1)")

RULES: dict[str, Rule] = {
    # optimization
    "learning_rate": _NON_NEGATIVE,  # 0 is a dry run (tests use it); a negative rate ascends the loss
    "value_learning_rate": _NON_NEGATIVE,
    "weight_decay": _NON_NEGATIVE,
    "adam_beta1": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "adam_beta2": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "adam_epsilon": _POSITIVE,
    "max_grad_norm": _NON_NEGATIVE,
    "warmup_steps": _NON_NEGATIVE,
    "num_train_epochs": _POSITIVE,
    "max_steps": (lambda v: v == -1 or v >= 1, "-1 (use epochs) or >= 1"),
    "gradient_accumulation_steps": _AT_LEAST_ONE,
    "per_device_train_batch_size": _AT_LEAST_ONE,
    "per_device_eval_batch_size": _AT_LEAST_ONE,
    "generation_batch_size": _AT_LEAST_ONE,
    "steps_per_generation": _AT_LEAST_ONE,
    "precompute_ref_batch_size": _AT_LEAST_ONE,
    "lr_schedule_steps": _AT_LEAST_ONE,
    # preference and RL objectives
    "beta": _NON_NEGATIVE,
    "epsilon": _POSITIVE,
    "epsilon_high": _POSITIVE,
    "cliprange_value": _POSITIVE,
    "gamma": _UNIT,
    "lam": _UNIT,
    "vf_coef": _NON_NEGATIVE,
    "temperature": _POSITIVE,
    "top_p": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "num_generations": _AT_LEAST_ONE,
    "num_iterations": _AT_LEAST_ONE,
    "ld_alpha": _UNIT,
    "label_smoothing": (lambda v: 0 <= v < 0.5, "in [0, 0.5)"),
    "max_nonfinite_steps": _AT_LEAST_ONE,
    # lengths
    "max_length": _AT_LEAST_ONE,
    "max_prompt_length": _AT_LEAST_ONE,
    "max_completion_length": _AT_LEAST_ONE,
    "vllm_max_model_length": _AT_LEAST_ONE,
    # fractions
    "vllm_gpu_memory_utilization": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "test_size": (lambda v: v > 0 and (v < 1 or float(v).is_integer()), "a fraction in (0, 1) or a row count"),
    "warmup_ratio": _UNIT,
    "eval_fraction": _OPEN_UNIT,
}


def range_errors(instances: Iterable[Any]) -> list[tuple[str, str]]:
    """(key, "`key` must be RANGE, got VALUE") for each field of the parsed configs outside its range."""
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    for instance in instances:
        for name, (ok, wanted) in RULES.items():
            value = getattr(instance, name, None)
            if name in seen or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            seen.add(name)
            if math.isnan(value) or not ok(value):
                errors.append((name, f"`{name}` must be {wanted}, got {value!r}"))
    return errors
