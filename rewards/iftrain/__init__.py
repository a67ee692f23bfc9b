"""Multi-constraint instruction-following rows in open-instruct's RLVR format (IF-RLVR, OLMo 2/3's IFTrain data).

A row of ``allenai/IF_multi_constraints_upto5`` has ``dataset: "ifeval"`` and a ``ground_truth`` string holding a
one-element Python list literal: ``"[{'instruction_id': [id, ...], 'kwargs': [dict or None, ...]}]"``
(open-instruct's ``IFEvalVerifier`` reads it with ``ast.literal_eval``). Each row has 1 to 5 constraints from
IFEval's 25 ids and IFTrain's 29 (:mod:`rewards.iftrain.checkers`). Rules of :func:`score`:

* the gold: a JSON or Python-literal string (only literals are parsed, never evaluated), a list whose first item is
  used, or a dict; the item may itself be a JSON string. It needs ``instruction_id`` (a non-empty list) and
  ``kwargs`` (a list of the same length; a null entry is ``{}``, null values inside an entry are dropped).
  Anything else, or a gold longer than :data:`MAX_GOLD_CHARS`, scores 0;
* the response is open-instruct's: ``<|assistant|>`` removed, the text after the last ``</think>``, ``<answer>``
  tags removed, stripped (:func:`rewards.ifeval.open_instruct.extract_answer`); an empty response scores 0;
* an IFTrain id is judged by its checker; an IFEval id by :mod:`rewards.ifeval`'s checker for it (Google's
  definition; an IFEval id reads ``prompt_to_repeat`` from its kwargs); an unknown id or bad arguments fail;
* ``loose``: a constraint also passes when one of IFEval's 8 loose variants of the response passes it;
* the score: all-or-nothing by default (1.0 only when every constraint holds); with ``partial=True`` the share of
  constraints that hold. open-instruct's current ``IFEvalVerifier`` averages (partial credit); this project's
  default rewards a row only when every constraint holds, as its IFEval verifier does for Google-format rows, so a
  policy is not paid for dropping the hardest constraint.

Never raises: a malformed gold or completion scores 0.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from rewards.gold_checks import UnknownInstruction
from rewards.ifeval.evaluate import check_one, loose_variants
from rewards.ifeval.open_instruct import extract_answer
from rewards.iftrain.checkers import CHECKERS, BadGold, kwargs_problem

__all__ = ["CHECKERS", "MAX_GOLD_CHARS", "constraints", "gold_problem", "is_iftrain_gold", "score"]

MAX_GOLD_CHARS = 200_000
"""Longer golds are not parsed (a literal that size is not a list of at most a few constraints)."""


def _load(ground_truth: Any) -> Any:
    if not isinstance(ground_truth, (str, bytes)):
        return ground_truth
    text = ground_truth.decode() if isinstance(ground_truth, bytes) else ground_truth
    if len(text) > MAX_GOLD_CHARS:
        raise ValueError("gold too long")
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text.strip())


def constraints(ground_truth: Any) -> list[tuple[str, dict[str, Any]]]:
    """``[(instruction_id, kwargs), ...]`` of an open-instruct multi-constraint gold; raises on a malformed one."""
    gold = _load(ground_truth)
    if isinstance(gold, (list, tuple)):
        if not gold:
            raise ValueError("empty gold list")
        gold = gold[0]
    if isinstance(gold, str):
        gold = json.loads(gold)
    if not isinstance(gold, Mapping):
        raise ValueError("not a dict with instruction_id and kwargs")
    ids, kwargs = gold.get("instruction_id"), gold.get("kwargs")
    if not isinstance(ids, (list, tuple)) or not ids or not all(isinstance(i, str) for i in ids):
        raise ValueError("instruction_id must be a non-empty list of ids")
    if not isinstance(kwargs, (list, tuple)) or len(kwargs) != len(ids):
        raise ValueError(f"kwargs must be a list of {len(ids)} entries, one per instruction id")
    if not all(k is None or isinstance(k, Mapping) for k in kwargs):
        raise ValueError("each kwargs entry must be a dict or null")
    return [(i, {k: v for k, v in (kw or {}).items() if v is not None}) for i, kw in zip(ids, kwargs, strict=True)]


def is_iftrain_gold(ground_truth: Any) -> bool:
    """Whether a gold has open-instruct's multi-constraint shape: a dict with ``instruction_id`` (Google's IFEval
    rows say ``instruction_id_list``, open-instruct's single-constraint rows ``func_name``), or a list of one."""
    try:
        gold = _load(ground_truth)
        if isinstance(gold, (list, tuple)) and gold:
            gold = json.loads(gold[0]) if isinstance(gold[0], str) else gold[0]
        return isinstance(gold, Mapping) and "instruction_id" in gold
    except Exception:  # noqa: BLE001 - not parseable: not this shape
        return False


def _holds(instruction_id: str, kwargs: dict[str, Any], texts: list[str]) -> bool:
    checker = CHECKERS.get(instruction_id)
    if checker is None:
        return any(check_one(instruction_id, text, kwargs, "") for text in texts)
    for text in texts:
        try:
            if text.strip() and checker(text, kwargs):
                return True
        except BadGold:
            return False
        except Exception:  # noqa: BLE001 - an odd response fails the constraint, never the run
            continue
    return False


def score(completion: Any, ground_truth: Any, *, loose: bool = False, partial: bool = False) -> float:
    """The reward share in [0, 1] of ``completion`` for a multi-constraint gold (rules in the module docstring)."""
    try:
        if not isinstance(completion, str):
            return 0.0
        rows = constraints(ground_truth)
        answer = extract_answer(completion)
        if not answer:
            return 0.0
        texts = loose_variants(answer) if loose else [answer]
        held = [_holds(i, kw, texts) for i, kw in rows]
        if partial:
            return sum(held) / len(held)
        return 1.0 if all(held) else 0.0
    except Exception:  # noqa: BLE001 - the verifier contract: bad input is simply not rewarded
        return 0.0


def gold_problem(ground_truth: Any, known: Any = ()) -> str | None:
    """Why a multi-constraint gold cannot be used, or None. An id that neither IFTrain nor ``known`` (the IFEval
    ids) raises :class:`rewards.gold_checks.UnknownInstruction`, so the RLVR gold check stops at once naming the row."""
    try:
        rows = constraints(ground_truth)
    except Exception as err:  # noqa: BLE001 - reported, never raised
        return f"malformed multi-constraint gold ({err})"
    for instruction_id, kwargs in rows:
        if instruction_id not in CHECKERS and instruction_id not in known:
            raise UnknownInstruction(f"unknown instruction id {instruction_id!r} (instruction_id)")
        problem = kwargs_problem(instruction_id, kwargs) if instruction_id in CHECKERS else None
        if problem is not None:
            return f"{instruction_id}: {problem}"
    return None
