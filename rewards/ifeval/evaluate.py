"""Strict and loose IFEval scoring.

Strict: an instruction is followed when the response is not blank and its checker passes.
Loose: it is followed when any of 8 variants passes -- the response, the response without its first
line, without its last line, without both (each of the three stripped), and each of those four with
every ``*`` removed. A prompt is followed when all of its instructions are.
A checker that raises (bad kwargs, unknown id) counts as not followed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewards.ifeval.instructions import CHECKERS


def loose_variants(response: str) -> list[str]:
    """The 8 response variants of IFEval's loose mode, in the reference order."""
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        without_first,
        without_last,
        without_both,
        without_first.replace("*", ""),
        without_last.replace("*", ""),
        without_both.replace("*", ""),
    ]


def _clean_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop the None-valued keys that some exports of the data carry."""
    return {k: v for k, v in (kwargs or {}).items() if v is not None}


def check_one(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None, prompt: str) -> bool:
    """Strict verdict of one instruction; never raises."""
    checker = CHECKERS.get(instruction_id)
    if checker is None or not isinstance(response, str) or not response.strip():
        return False
    try:
        return bool(checker(response, _clean_kwargs(kwargs), prompt))
    except Exception:  # noqa: BLE001 - a malformed instruction is simply not followed
        return False


def check_instructions(
    prompt: str,
    response: str,
    instruction_id_list: Sequence[str],
    kwargs_list: Sequence[Mapping[str, Any] | None],
    *,
    loose: bool = False,
) -> list[bool]:
    """One verdict per instruction id (strict or loose), in order."""
    if not isinstance(response, str):
        return [False] * len(instruction_id_list)
    kwargs_list = list(kwargs_list) + [None] * (len(instruction_id_list) - len(kwargs_list))
    variants = loose_variants(response) if loose else [response]
    return [
        any(check_one(iid, variant, kw, prompt) for variant in variants)
        for iid, kw in zip(instruction_id_list, kwargs_list[: len(instruction_id_list)], strict=True)
    ]


def accuracies(results: Sequence[Sequence[bool]]) -> tuple[float, float]:
    """(prompt-level, instruction-level) accuracy in percent of per-prompt verdict lists."""
    if not results:
        return 0.0, 0.0
    prompt_level = sum(all(r) for r in results) / len(results)
    total = sum(len(r) for r in results)
    instruction_level = sum(sum(r) for r in results) / total if total else 0.0
    return 100.0 * prompt_level, 100.0 * instruction_level
