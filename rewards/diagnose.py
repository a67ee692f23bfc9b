"""Why a verifier scored a completion as it did: one category and the answer it read, never a different score.

Categories (:data:`CATEGORIES`), for the verifier that judges the row (``gsm8k``, ``math``, ``ifeval``, a
plug-in; for ``verifiable`` the row's ``dataset`` value):

- ``correct``: the verifier's verdict is True (whatever the reading below says);
- ``hedge``: the verifier reads more than one answer and refuses to pick one (two different committed answers,
  an answer plus an alternative: "5 or 6", ``\\boxed{18}`` then ``#### 19``), or, for MATH, its one answer is a
  list ("either $3$ or $4$", ``3, 4``) where the gold is one value;
- ``no_answer``: the verifier reads no answer (no number, only a negation "the answer is not 5", everything
  taken back); for MATH also a completion that commits to nothing (no box, answer line, Minerva line, ``####`` or
  bold): the verifier then falls back to the last math span or the whole text, reported as the extracted answer
  (which can still be correct). IFEval and plug-ins: an empty completion;
- ``wrong``: anything else the verifier rejected;
- ``unscored``: no verifier owns the row (verdict None).

The reading (answer / none / hedge) is the verifiers' own: :func:`rewards.outcome.extract_answer` where this
version of ``rewards`` has it, else the same read from the public :func:`rewards.math_flex.final_answer` and
:func:`rewards.gsm8k.final_number` (None there is a hedge when the text commits to, or holds, two or more
different values, else no answer). That is the in-process, linear-time extraction the score itself ran, never the
symbolic check, so :func:`classify` on a verdict the caller already has (the RL trainer's score) adds no
process, pool or time limit the score did not need; a correct row needs no reading at all when the answer is not
wanted. :func:`diagnose` scores the row first, through the registry (the symbolic check in its time-limited worker
pool), then classifies it. Neither evaluates model text, and neither raises: a failure inside the reading leaves
the verdict's category (``correct`` or ``wrong``) and no extracted answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewards import gsm8k, math_flex
from rewards.equivalence import listify
from rewards.extract import completion_text, numbers
from rewards.registry import REGISTRY, Options
from rewards.verifiable import verifier_for as route
from rewards.worker_pool import DEFAULT_TIMEOUT

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
        return route(dataset) or ""  # the dispatcher's own rule: one place decides which verifier owns a row
    return name


try:  # the verifiers' own reading (answer / none / hedge), where this version of ``rewards`` has it
    from rewards.outcome import extract_answer
except ImportError:  # pragma: no cover - older rewards: read the same from the public extraction functions
    extract_answer = None

_BOLD = re.compile(r"\*\*[^*\n]{1,200}\*\*")


def _reading(text: str, ground_truth: str, verifier: str, gold_is_list: bool) -> tuple[str, str | None]:
    """``(status, answer)``: ``answer`` (with the text read), ``none`` or ``hedge``, as the verifier reads it."""
    if extract_answer is not None:
        found = extract_answer(verifier, text, ground_truth)
        return found.status, found.answer
    if verifier == "gsm8k":
        value = gsm8k.final_number(text)
        if value is not None:
            return "answer", format(value, "f")
        return ("hedge" if len({v for v, _, _ in numbers(text)}) > 1 else "none"), None
    answer = math_flex.final_answer(text, gold_is_list=gold_is_list)
    if answer is None:
        return ("hedge" if math_flex.commitments(text)[0] else "none"), None
    return "answer", answer


def _extracted(text: str, ground_truth: str, verifier: str, correct: bool) -> Diagnosis:
    gold_is_list = False
    if verifier == "math":
        gold_is_list = listify(math_flex.gold_answer(ground_truth), thousands=True) is not None
    status, answer = _reading(text, ground_truth, verifier, gold_is_list)
    if correct:
        return Diagnosis("correct", answer)
    if status != "answer":
        return Diagnosis("hedge" if status == "hedge" else "no_answer")
    if verifier == "math":
        if not math_flex.commitments(text)[0] and not _BOLD.search(text):
            return Diagnosis("no_answer", answer)  # the verifier fell back to the last math span or the whole text
        if not gold_is_list and listify(answer, thousands=True) is not None:
            return Diagnosis("hedge", answer)  # several values offered for one
    return Diagnosis("wrong", answer)


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
        if verifier in ("math", "gsm8k"):
            return _extracted(text, str(ground_truth), verifier, bool(verdict))
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
