"""Can a verifier read a training row's gold at all? Checked before RL training, not during it.

A gold the verifier cannot parse makes every completion of that row score 0, so the row trains on all-zero
rewards without any error (open-r1 issues #293/#215 report the mirror image: an unparseable gold rewarded 1).
``gold_problem(verifier, ground_truth)`` returns why a gold cannot be used, or None when it can:

- ``math``: the gold answer (:func:`rewards.math_flex.gold_answer`) is empty, has unbalanced braces, the gold
  has a ``\\boxed{`` that never closes, or the answer is longer than :data:`MAX_MATH_GOLD` characters (a solution
  text without a box, not an answer);
- ``gsm8k``: no single number (:func:`rewards.gsm8k.gold_number` gives None);
- ``ifeval``: not a JSON object (or dict) with ``func_name`` or ``instruction_id_list``, or, for open-instruct's
  multi-constraint rows (``instruction_id``, :mod:`rewards.iftrain`), a malformed list or an IFTrain constraint
  with missing or malformed arguments. An instruction id that no checker knows raises
  :class:`UnknownInstruction` instead: that row cannot be judged at all, and the ids usually come from one
  misspelt constraint set, so the caller stops at the first.
- ``ifbench``: :func:`rewards.ifbench.gold_problem` (either IFBench gold shape; an id that is not one of IFBench's 58
  raises :class:`UnknownInstruction`).

Other verifiers may add a check with :func:`register_gold_check`. Checks never evaluate the gold.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

MAX_MATH_GOLD = 500
GoldCheck = Callable[[Any], "str | None"]
GOLD_CHECKS: dict[str, GoldCheck] = {}


class UnknownInstruction(ValueError):
    """An IFEval-style gold names an instruction id that no checker implements."""


def register_gold_check(name: str) -> Callable[[GoldCheck], GoldCheck]:
    """Decorator adding the gold check of verifier ``name`` (lower case)."""

    def decorate(fn: GoldCheck) -> GoldCheck:
        GOLD_CHECKS[name.lower()] = fn
        return fn

    return decorate


@register_gold_check("math")
def math_gold(ground_truth: Any) -> str | None:
    from rewards.extract import boxed_all
    from rewards.math_flex import gold_answer

    text = "" if ground_truth is None else str(ground_truth)
    if ("\\boxed" in text or "\\fbox" in text) and not boxed_all(text):
        return "unclosed \\boxed{"
    gold = gold_answer(text)
    if not gold:
        return "empty gold"
    if gold.count("{") != gold.count("}"):
        return "unbalanced braces"
    if len(gold) > MAX_MATH_GOLD:
        return "not one answer (a text without a \\boxed{} answer)"
    return None


@register_gold_check("gsm8k")
def gsm8k_gold(ground_truth: Any) -> str | None:
    from rewards.gsm8k import gold_number

    try:
        value = gold_number("" if ground_truth is None else str(ground_truth))
    except Exception:  # noqa: BLE001 - an unreadable gold is reported, never raised
        value = None
    return None if value is not None else "no single number"


@register_gold_check("ifeval")
def ifeval_gold(ground_truth: Any) -> str | None:
    from rewards.ifeval import CHECKERS
    from rewards.ifeval.open_instruct import FUNCTIONS
    from rewards.iftrain import gold_problem as iftrain_gold_problem
    from rewards.iftrain import is_iftrain_gold

    if is_iftrain_gold(ground_truth):
        return iftrain_gold_problem(ground_truth, known=CHECKERS)
    try:
        gold = json.loads(ground_truth) if isinstance(ground_truth, (str, bytes)) else ground_truth
    except ValueError:
        return "not JSON"
    if not isinstance(gold, Mapping):
        return "not a JSON object"
    if "func_name" in gold:
        if gold["func_name"] not in FUNCTIONS:
            raise UnknownInstruction(f"unknown instruction id {gold['func_name']!r} (func_name)")
        return None
    ids = gold.get("instruction_id_list")
    if not isinstance(ids, list) or not ids:
        return "no func_name or instruction_id_list"
    unknown = [i for i in ids if i not in CHECKERS]
    if unknown:
        raise UnknownInstruction(f"unknown instruction id {unknown[0]!r} (instruction_id_list)")
    return None


@register_gold_check("ifbench")
def ifbench_gold(ground_truth: Any) -> str | None:
    from rewards.ifbench import gold_problem as ifbench_problem

    return ifbench_problem(ground_truth)


def gold_problem(verifier: str, ground_truth: Any) -> str | None:
    """Why ``verifier`` cannot read ``ground_truth`` (rules in the module docstring), or None. Verifiers without
    a registered check (plug-ins) are never reported."""
    check = GOLD_CHECKS.get(verifier.strip().lower())
    return None if check is None else check(ground_truth)
