"""What a verifier read in a completion, for diagnostics: an answer, no answer, or a hedge.

``extract_answer(verifier, completion, ground_truth="")`` gives an :class:`Extraction` for the ``"math"`` and
``"gsm8k"`` verifiers (None for any other name): ``status`` is ``"answer"`` (``answer`` holds the extracted text),
``"none"`` (nothing committed, a negation only, everything taken back, or reasoning cut off inside ``<think>``)
or ``"hedge"`` (two different committed answers, or alternatives offered where one value is asked). It never
raises: a failure inside extraction reads as ``"none"``. The verdict itself still comes from ``verify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["answer", "none", "hedge"]


@dataclass(frozen=True)
class Extraction:
    """One completion's reading: ``status`` and, for ``"answer"``, the extracted answer text."""

    status: Status
    answer: str | None = None


def extract_answer(verifier: str, completion: Any, ground_truth: Any = "") -> Extraction | None:
    """The :class:`Extraction` of ``completion`` by ``verifier`` (``"math"`` or ``"gsm8k"``), else None."""
    from rewards import gsm8k, math_flex
    from rewards.extract import completion_text

    name = verifier.strip().lower()
    if name not in ("math", "gsm8k"):
        return None
    try:
        text = completion_text(completion)
        if name == "gsm8k":
            return gsm8k.extract(text)
        gold = math_flex.gold_answer(str(ground_truth)) if ground_truth else ""
        return math_flex.extract(text, gold_is_list=bool(gold) and math_flex.listify(gold, thousands=True) is not None)
    except Exception:  # noqa: BLE001 - diagnostics never raise
        return Extraction("none", None)
