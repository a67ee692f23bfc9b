"""LLM-as-judge ratings, UltraFeedback style (paper §5.2, App. D).

Rule: one judge call per (response, aspect); the rubric is ``templates/judge_<aspect>.txt`` with
``$instruction`` and ``$response``; the judge ends with ``Rating: <1-5>``. :func:`parse_rating` accepts
common variants (``**Rating:** 4``, ``Rating: [[4]]``, ``4/5``, ``{"rating": 4}``, a bare number) and
returns ``None`` for N/A where the aspect allows it (honesty); anything else raises ``MalformedOutputError``
so the executor retries.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .backends import MalformedOutputError
from .prompts import load_template, render

ASPECTS = ("helpfulness", "instruction_following", "honesty", "truthfulness")
NA_ASPECTS = frozenset({"honesty"})

_NUMBER = r"(?:\[\[|\[|\()?\s*(?P<value>N\s*/\s*A|\d+(?:\.\d+)?)(?![\d.]*\d)"
_RATING_RE = re.compile(r"rating\W{0,12}?" + _NUMBER, re.IGNORECASE)
_BARE_RE = re.compile(r"^\W*(?P<value>N\s*/\s*A|\d+(?:\.\d+)?)\s*(?:/\s*5)?\W*$", re.IGNORECASE)
_JSON_RE = re.compile(r"\{[^{}]*\}")


def render_instruction(prompt_messages: list[dict[str, str]]) -> str:
    """The prompt as the judge sees it: the user's text for a single turn, else a labelled transcript."""
    turns = [m for m in prompt_messages if m["role"] != "system"]
    if len(turns) == 1 and turns[0]["role"] == "user":
        return turns[0]["content"]
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in prompt_messages)


def judge_messages(
    aspect: str, prompt_messages: list[dict[str, str]], response: str, templates_dir: str | None = None
) -> list[dict[str, str]]:
    if aspect not in ASPECTS:
        raise ValueError(f"unknown aspect {aspect!r}; choose from {ASPECTS}")
    template = load_template(f"judge_{aspect}.txt", templates_dir)
    text = render(template, instruction=render_instruction(prompt_messages), response=response)
    return [{"role": "user", "content": text}]


def _to_rating(value: Any, allow_na: bool, raw: str) -> float | None:
    if isinstance(value, str) and re.fullmatch(r"N\s*/\s*A", value.strip(), re.IGNORECASE):
        if allow_na:
            return None
        raise MalformedOutputError(f"N/A is not allowed for this aspect: {raw[-200:]!r}")
    try:
        rating = float(value)
    except (TypeError, ValueError) as err:
        raise MalformedOutputError(f"unparsable rating {value!r}") from err
    if not 1.0 <= rating <= 5.0:
        raise MalformedOutputError(f"rating {rating} outside 1-5: {raw[-200:]!r}")
    return rating


def parse_rating(text: str, allow_na: bool = False) -> float | None:
    """The judge's 1-5 rating (the last one stated), ``None`` for an allowed N/A."""
    for match in reversed(_JSON_RE.findall(text)):
        try:
            data = json.loads(match)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            for key, value in data.items():
                if key.lower() in ("rating", "score"):
                    return _to_rating(value, allow_na, text)
    matches = list(_RATING_RE.finditer(text))
    if matches:
        return _to_rating(matches[-1].group("value"), allow_na, text)
    bare = _BARE_RE.match(text.strip())
    if bare:
        return _to_rating(bare.group("value"), allow_na, text)
    raise MalformedOutputError(f"no rating found in judgment: {text[-200:]!r}")
