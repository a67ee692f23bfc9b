"""GSM8K verifier: answer extraction, exact numbers, hedging, and every real GSM8K test gold."""

from __future__ import annotations

import json

import pytest
from _shared import shared_data

from rewards.gsm8k import verify


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    [
        ("The answer is −5.", "-5", True),  # unicode minus (open-instruct's regex dropped signs)
        ("so it is -5 degrees", "-5", True),
        ("16-3-4 = 9", "9", True),  # a minus glued to a digit is subtraction, not a sign
        ("#### 1,450,000", "1450000", True),
        ("She pays $18.00 in total", "18", True),
        ("The answer is 18.50 dollars.", "18.5", True),
        ("The answer is 18 apples.", "$18", True),
        ("The answer is \\boxed{18}.", "18", True),
        ("The answer is 5 - 3 = 2", "2", True),
        ("#### 18\nThe answer is 17", "18", False),  # two different committed answers: a hedge, whichever is later
        ("The answer is 18.", "#### 18", True),
        ("The answer is 18.5", "18", False),
        ("The answer is 5 or 6.", "5", False),  # hedging
        ("The answer is 5, 6 or 7.", "5", False),
        ("The answer is 5/6", "5", False),
        ("#### 5\n#### 6", "5", False),
        ("The answer is 5. The answer is 6.", "6", False),
        ("\\boxed{5} or maybe \\boxed{6}", "6", False),
        ("#### 5\n#### 5", "5", True),  # repeating the same answer is not hedging
        ("no number at all", "5", False),
        ("The answer is 5", "not a number", False),
        ("1" * 5000, "1" * 5000, False),  # over-long numbers are never converted
    ],
)
def test_cases(completion, gold, expected):
    assert verify(completion, gold) is expected


def _rows():
    with open(shared_data("gsm8k_test.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_every_gold_verifies_in_natural_forms_and_perturbed_is_rejected():
    rows = _rows()
    assert len(rows) == 1319
    accepted = rejected = 0
    for row in rows:
        answer = row["answer"]
        gold = answer.rsplit("####", 1)[1].strip()
        value = int(gold.replace(",", ""))
        forms = [
            answer,
            f"The answer is {gold}.",
            f"\\boxed{{{gold}}}",
            f"The answer is {value:,}.",
            f"The answer is ${value:,}.00",
        ]
        accepted += sum(verify(form, answer) and verify(form, gold) for form in forms)
        wrong = str(value + 1)
        body = answer[: answer.rfind("####")]
        perturbed = [f"{body}#### {wrong}", f"The answer is {wrong}.", f"\\boxed{{{wrong}}}"]
        rejected += sum(not verify(form, answer) for form in perturbed)
    assert accepted == 5 * len(rows)  # 100%
    assert rejected == 3 * len(rows)  # 100%
