"""MATH-flex verifier: candidates, normalization, sets vs tuples, hedging, and the real MATH golds."""

from __future__ import annotations

import json
import re

import pytest
from _shared import shared_data

from rewards.math_flex import commitments, gold_answer, prepare, same_answer, verify_batch


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    [
        ("so the answer is \\boxed{\\dfrac{1}{2}}.", "\\frac12", True),
        ("\\fbox{0.5}", "\\frac{1}{2}", True),
        ("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}", True),  # needs the symbolic check
        ("\\boxed{(x+1)^2}", "x^2+2x+1", True),
        ("\\boxed{x^2+2x+2}", "x^2+2x+1", False),
        ("Final Answer: The final answer is $x = 5$. I hope it is correct.", "5", True),
        ("Final Answer: The final answer is 1,000 dollars. I hope it is correct.", "1000", True),
        ("we get $x=3$ and so $3$", "3", True),  # text between the last two dollars
        ("7", "7", True),  # whole output
        ("\\boxed{2, 1}", "1,2", True),  # roots are unordered
        ("\\boxed{\\{2,-1\\}}", "\\{-1, 2\\}", True),
        ("\\boxed{(2,1)}", "(1,2)", False),  # ordered pairs are ordered
        ("\\boxed{(1,2)}", "(1,2)", True),
        ("\\boxed{[3,4)}", "[3,4]", False),  # interval ends matter
        ("\\boxed{90^\\circ}", "90", True),
        ("\\boxed{\\text{east}}", "\\text{East}", True),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
        ("\\boxed{50\\%}", "50", True),
        ("\\boxed{\\$18}", "18", True),
        ("\\boxed{52_9}", "52_8", False),  # numerals in another base
        ("\\boxed{5} but maybe \\boxed{6}", "6", False),  # hedging between boxes
        ("\\boxed{5} so \\boxed{5}", "5", True),
        ("\\boxed{5 \\text{ or } 6}", "5", False),  # hedging inside the answer
        ("The answer is 5 or 6", "5", False),
        ("\\boxed{9^{9^{9^{9}}}}", "9", False),  # refused before any parse
        ("\\boxed{1000000!}", "5", False),
        ("\\boxed{\\frac{1}{3}", "\\frac12", False),  # unclosed box: no box, the whole output is judged
        ("", "5", False),
    ],
)
def test_cases(completion, gold, expected):
    assert verify_batch([completion], [gold]) == [expected]


def _golds(name: str) -> tuple[list[dict], list[str]]:
    with open(shared_data(name), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    golds = [row["answer"] if "answer" in row else gold_answer(row["solution"]) for row in rows]
    return rows, golds


def _perturb(gold: str) -> str | None:
    """Change the last number of the gold (None when it has no digits)."""
    matches = list(re.finditer(r"\d+", gold))
    if not matches:
        return None
    last = matches[-1]
    return gold[: last.start()] + str(int(last.group()) + 1) + gold[last.end() :]


# Solutions that commit to more than one different value are hedging under our rule, so the reference
# solution fails for them although its last box is the gold. MATH-500: none (number_theory/459 boxes
# 15\frac{39}{40} and then \frac{639}{40}: one value, a mixed number and a fraction); MATH-5000: 18 (boxed
# intermediate values, both roots then the chosen one, "we might be tempted to say the answer is $6\times 3 = 18$").
SOLUTION_EXCEPTIONS = {"math_test.jsonl": 0, "math_test_full5000.jsonl": 18}


@pytest.mark.parametrize(("name", "size"), [("math_test.jsonl", 500), ("math_test_full5000.jsonl", 5000)])
def test_golds_verify_against_solution_and_box_and_perturbed_are_rejected(name, size):
    rows, golds = _golds(name)
    assert len(rows) == size
    boxed = verify_batch([f"\\boxed{{{g}}}" for g in golds], golds)
    assert sum(boxed) == size  # 100%
    solved = verify_batch([row["solution"] for row in rows], golds)
    assert sum(solved) == size - SOLUTION_EXCEPTIONS[name]
    for row, ok in zip(rows, solved, strict=True):
        if not ok:
            found, _ = commitments(row["solution"])
            assert any(not same_answer(x, found[-1]) for x in found)  # each exception commits to two values
    pairs = [(p, g) for g in golds if (p := _perturb(g)) is not None]
    assert len(pairs) == {500: 489, 5000: 4912}[size]  # golds without any digit cannot be perturbed
    wrong = verify_batch([f"\\boxed{{{p}}}" for p, _ in pairs], [g for _, g in pairs])
    assert sum(wrong) == 0  # 0% accepted
    # the in-process checks decide almost everything; only a few need the time-limited symbolic worker
    pending = sum(prepare(f"\\boxed{{{p}}}", g)[0] is None for p, g in pairs)
    assert pending <= {500: 6, 5000: 72}[size]
