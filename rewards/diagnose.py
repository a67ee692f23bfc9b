"""Why a verifier scored a completion as it did: one category and the answer it read, never a different score.

Categories (:data:`CATEGORIES`), for the verifier that judges the row (``gsm8k``, ``math``, ``ifeval``, a
plug-in; for ``verifiable`` the row's ``dataset`` value):

- ``correct``: the verifier's verdict is True (whatever the extraction below says);
- ``hedge``: the completion commits to more than one answer and the verifier refuses to pick one. MATH: it has
  committed answers (boxes, "The answer is", Minerva lines, ``####``) but no single final answer, or its final
  answer is a list ("either $3$ or $4$", ``3, 4``) where the gold is one value. GSM8K: no
  final number although the text holds two or more different numbers ("5 or 6", ``#### 5`` then ``#### 6``);
- ``no_answer``: nothing to judge. MATH: no committed answer at all; the verifier then reads the last math span
  or the whole text, which is still reported as the extracted answer and can still be correct. GSM8K: no final
  number and at most one distinct number (none, or only a negated one: "the answer is not 5"). IFEval and
  plug-ins: an empty completion;
- ``wrong``: anything else the verifier rejected;
- ``unscored``: no verifier owns the row (verdict None).

:func:`classify` takes a verdict the caller already has (the RL trainer's score) and only runs the verifier's
public in-process extraction (:func:`rewards.math_flex.final_answer`, :func:`rewards.gsm8k.final_number`), the
same linear-time code the score ran, never the symbolic check; a correct row needs no extraction at all when the
answer is not wanted. :func:`diagnose` scores the row first, through the registry (so the symbolic check runs in
its time-limited worker pool), then classifies it. Neither evaluates model text, and neither raises: a failure
inside the extraction leaves the verdict's category (``correct`` or ``wrong``) and no extracted answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewards import gsm8k, math_flex
from rewards.core import REGISTRY, Options
from rewards.equivalence import listify
from rewards.extract import completion_text, numbers
from rewards.limits import DEFAULT_TIMEOUT

CATEGORIES = ("correct", "wrong", "no_answer", "hedge", "unscored")


@dataclass(frozen=True)
class Diagnosis:
    """A verdict's category (one of :data:`CATEGORIES`) and the answer the verifier read (None: none)."""

    category: str
    extracted: str | None = None


def verifier_for(reward_name: str, dataset: Any = None) -> str:
    """The verifier that judges a row: the reward's own name, or for ``verifiable`` the row's dataset."""
    name = reward_name.strip().lower()
    if name == "verifiable":
        return dataset.strip().lower() if isinstance(dataset, str) else ""
    return name


def _math(text: str, ground_truth: str, correct: bool) -> Diagnosis:
    gold = math_flex.gold_answer(ground_truth)
    gold_is_list = listify(gold, thousands=True) is not None
    answer = math_flex.final_answer(text, gold_is_list=gold_is_list)
    if correct:
        return Diagnosis("correct", answer)
    committed, _ = math_flex.commitments(text)
    if answer is None:
        return Diagnosis("hedge" if committed else "no_answer")
    if not committed:
        return Diagnosis("no_answer", answer)
    offered_list = not gold_is_list and listify(answer, thousands=True) is not None
    return Diagnosis("hedge" if offered_list else "wrong", answer)


def _gsm8k(text: str, correct: bool) -> Diagnosis:
    answer = gsm8k.final_number(text)
    shown = None if answer is None else format(answer, "f")
    if correct:
        return Diagnosis("correct", shown)
    if answer is None:
        distinct = {value for value, _, _ in numbers(text)}
        return Diagnosis("hedge" if len(distinct) > 1 else "no_answer")
    return Diagnosis("wrong", shown)


def classify(
    completion: Any, ground_truth: Any, verifier: str, verdict: bool | None, *, want_answer: bool = True
) -> Diagnosis:
    """The category of a row whose verdict is known (rule in the module docstring); never raises.

    ``want_answer=False`` skips the extraction for a correct row (the training metrics need only the category).
    """
    if verdict is None:
        return Diagnosis("unscored")
    if verdict and not want_answer:
        return Diagnosis("correct")
    fallback = Diagnosis("correct" if verdict else "wrong")
    try:
        text = completion_text(completion)
        if verifier == "math":
            return _math(text, str(ground_truth), bool(verdict))
        if verifier == "gsm8k":
            return _gsm8k(text, bool(verdict))
        return fallback if text.strip() else Diagnosis("no_answer")
    except Exception:  # noqa: BLE001 - diagnostics never raise; the verdict stands
        return fallback


def diagnose(
    completion: Any,
    ground_truth: Any,
    dataset: str,
    *,
    columns: Mapping[str, Any] | None = None,
    options: Options | None = None,
) -> Diagnosis:
    """Score one row with the registered verifier ``dataset`` (time-limited as in training), then classify it.

    An unknown verifier name gives ``unscored``. ``columns`` are the row's other dataset columns (as lists of
    one), for verifiers that read them.
    """
    key = verifier_for(dataset)
    batch = REGISTRY.get(key)
    if batch is None or key == "verifiable":
        return Diagnosis("unscored")
    try:
        text = completion_text(completion)
        opts = options or Options(timeout=DEFAULT_TIMEOUT)
        verdict = batch([text], [ground_truth], columns=dict(columns or {}), options=opts)[0]
    except Exception:  # noqa: BLE001 - a verifier never raises; a failing one scores the row False
        verdict = False
    return classify(completion, ground_truth, key, None if verdict is None else bool(verdict))
