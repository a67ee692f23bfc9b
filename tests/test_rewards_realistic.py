"""Issue 14: what real models write, judged as a careful grader would; bounded cost; verifiers independent.

Every case names the rule it checks (docstrings of rewards.gsm8k, rewards.math_flex, rewards.equivalence).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import pytest

from rewards import gsm8k, load_reward, math_flex
from rewards.symbolic import symbolic_allowed
from rewards.worker_pool import run_limited

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REALISTIC = _load("realistic_completions")


def test_realistic_sets_match_the_hand_labels_in_process():
    math_items = REALISTIC.math_items()
    verdicts = math_flex.verify_batch([c for c, *_ in math_items], [g for _, g, *_ in math_items])
    wrong = [(kind, c[-60:], g) for (c, g, label, kind), v in zip(math_items, verdicts, strict=True) if v != label]
    assert wrong == []
    assert sum(verdicts) == sum(label for *_, label, _ in math_items) == 161  # so also zero false positives
    # a third of the right answers are other symbolic forms; all are decided without the worker
    assert sum(kind.endswith("symbolic") for *_, kind in math_items) == 56
    assert sum(math_flex.prepare(c, g)[0] is None for c, g, *_ in math_items) <= 2
    gsm_items = REALISTIC.gsm8k_items()
    assert [gsm8k.verify(c, g) for c, g, *_ in gsm_items] == [label for _, _, label, _ in gsm_items]


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    [
        ("The answer is not 5, it is 6.", "6", True),  # "not X, it is Y" commits to Y
        ("The answer is not 5, it is 6.", "5", False),
        ("the answer is not $5$", "5", False),  # a negation commits to nothing (no fallback to the last number)
        ("The answer is 18 (= 6 × 3).", "18", True),  # a parenthetical after the number is an aside
        ("The answer is (5 + 3) = 8", "8", True),  # "=" outside parentheses: the text after it counts
        ("The answer is either $3$ or $4$.", "3", False),  # an alternative after the committed number
        ("The answer is 12, 15.", "12", False),  # two values where one is asked
        ("The answer is 18, since 6 × 3 = 18.", "18", True),  # a comma then words is not a second value
        ("\\boxed{18}\n#### 19", "19", False),  # two different committed answers, the later does not win
        ("\\boxed{18}\n#### 18", "18", True),
        ("Put the answer in \\boxed{}.\n\\boxed{18}", "18", True),  # an empty box is not an answer
        ("## Step 1: 6 * 3 = 18\n\nThe final answer is: $\\boxed{18}$", "18", True),  # Llama
        ("**Final Answer:** 18", "18", True),  # an "Answer:" line
        ("#### Step 1: Eggs\n16 - 3 - 4 = 9\n#### Step 2: Money\n9 * 2 = 18\n#### 18", "18", True),  # headings
        ("She has 3 or 4 apples left.", "4", False),  # no marker: the last number, unless offered as "or"
        ("To answer: she buys 5 pens, so 18 in all.", "18", True),  # "answer:" mid-line is prose, not a marker
    ],
)
def test_gsm8k_commitment_rules(completion, gold, expected):
    assert gsm8k.verify(completion, gold) is expected


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    [
        # extraction
        ("Final Answer: The final answer is either $3$ or $4$. I hope it is correct.", "3", False),
        ("Final Answer: The final answer is $3$ or $4$. I hope it is correct.", "4", False),
        ("So the answer is $12, 15$.", "12", False),
        ("\\boxed{\\frac34} \\quad that is \\boxed{0.75}", "\\frac{3}{4}", True),  # one value, two forms
        ("\\boxed{15\\frac{39}{40}} = \\boxed{\\frac{639}{40}}", "\\frac{639}{40}", True),  # number_theory/459
        ("\\boxed{3} and then \\boxed{4}", "4", False),  # two boxed values hedge
        ("The answer is not $\\frac12$.", "\\frac{1}{2}", False),
        ("The answer is not $\\frac12$, it is $\\frac34$.", "\\frac{3}{4}", True),
        ("The answer is correct: we get $7$.", "7", True),  # prose after "answer is" is not a commitment
        ("\\boxed{7}\n#### 8", "8", False),
        ("The solutions are \\boxed{5} and \\boxed{-5}.", "5, -5", True),  # distinct boxes answer a list gold
        ("The solutions are \\boxed{5} and \\boxed{-5}.", "5", False),  # ... and hedge against one value
        # mixed numbers
        ("\\boxed{137.5}", "137 \\frac{1}{2}", True),
        ("\\boxed{68.5}", "137 \\frac{1}{2}", False),
        ("\\boxed{-3\\frac{1}{4}}", "-3.25", True),
        ("\\boxed{2\\frac{\\pi}{3}}", "\\frac{2\\pi}{3}", True),  # not a proper fraction of integers: a product
        # tolerance that keeps tiny values apart
        ("\\boxed{\\frac{1}{2^{99}}}", "\\frac{1}{2^{98}}", False),
        ("\\boxed{\\frac{\\pi}{2^{99}}}", "\\frac{\\pi}{2^{98}}", False),
        ("\\boxed{2^{-98}}", "\\frac{1}{2^{98}}", True),
        ("\\boxed{1.41421356237}", "\\sqrt{2}", False),  # a decimal is never proven equal to an irrational
        # lists, thousands, solution sets, select-all
        ("\\boxed{5125}", "5, 125", False),
        ("\\boxed{5,125}", "5125", True),
        ("\\boxed{5,125}", "5, 125", True),
        ("\\boxed{x = 2 \\text{ or } x = -3}", "-3, 2", True),
        ("\\boxed{1 \\text{ and } 4}", "1, 4", True),
        ("\\boxed{x = \\pm 3}", "-3, 3", True),
        ("\\boxed{\\text{C, A}}", "\\text{A, C}", True),
        ("\\boxed{\\text{C, B}}", "\\text{A, C}", False),
        # units and wrappers
        ("\\boxed{24 \\text{ cm}^2}", "24", True),
        ("\\boxed{24\\text{ square units}}", "24 \\text{ units}^2", True),
        ("\\boxed{24 \\text{ cm}^3}", "24 \\text{ cm}^2", False),  # two named units must agree
        ("\\boxed{5 \\text{ centimeters}}", "5\\text{ cm}", True),  # ... in canonical form
        ("\\boxed{\\text{5}}", "5", True),
        ("\\boxed{5\\,\\quad}", "5", True),
        # notations of one object
        ("\\boxed{\\varnothing}", "\\emptyset", True),
        ("\\boxed{\\{0\\}}", "\\emptyset", False),
        ("\\boxed{2x + 1 = y}", "y = 2x + 1", True),
        ("\\boxed{2x + 2y = 4}", "x + y - 2 = 0", True),  # the same equation, scaled
        ("\\boxed{5x - 7y + 11z + 4 = 1}", "5x - 7y + 11z + 4 = 0", False),  # reached the hard limit before
        ("\\boxed{\\textbf{(C)}}", "\\text{(C)}", True),
        ("\\boxed{0.\\overline{36}}", "\\frac{4}{11}", True),
        ("\\boxed{0.1\\overline{6}}", "\\frac{1}{6}", True),
        (
            "\\boxed{\\left[\\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array}\\right]}",
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
            True,
        ),
        ("\\boxed{(3, 4]}", "[3, 4)", False),
        ("\\boxed{\\sqrt{x^2}}", "x", False),  # the fingerprint has a negative test point
    ],
)
def test_math_commitment_and_equivalence_rules(completion, gold, expected):
    assert math_flex.verify_batch([completion], [gold]) == [expected]


BOUNDED = [
    "9!!!!!!!!!!",
    "5!!",
    "(10^{100})!",
    "\\left(4^{45}\\right)!",
    "((7!)!)!",
    "(931\\cdot370)!",
    "12345!",
    "\\binom{10^9}{10^5}",
    "\\dbinom{722!}{60120}",
    "{10^{80} \\choose 892786}",
    "\\tbinom{328324501606}{61806}",
    "(" * 13 + "1" + ")" * 13,
    "[" * 13 + "1" + "]" * 13,
    "\\left(" * 13 + "1" + "\\right)" * 13,
    "\\sqrt{" * 13 + "2" + "}" * 13,
    "|" * 14 + "1" + "|" * 14,
    "9^{9^{9}}",
]


@pytest.mark.parametrize("shape", BOUNDED)
def test_shapes_that_reached_the_hard_limit_are_refused_in_milliseconds(shape):
    assert not symbolic_allowed(shape)
    decision, _, _ = math_flex.prepare(f"The final answer is: $\\boxed{{{shape}}}$", "\\frac{1}{2}")
    assert decision is False  # decided in-process, never sent to the worker (latency: benchmarks/fuzz_verifiers.py)


def test_ordinary_combinatorics_still_reach_the_symbolic_check():
    for text in ("(n+1)!", "5!", "\\binom{10}{5}", "{10 \\choose 3}", "(2n)!", "1,\\!000,\\!000"):
        assert symbolic_allowed(text), text


def test_small_fuzz_of_named_shapes_never_reaches_the_worker():
    fuzz = _load("fuzz_verifiers")
    items = [(s, t) for s, t in fuzz.completions(1800, seed=3) if s in fuzz.NAMED_SHAPES]
    assert len(items) == 1000
    for k, (shape, text) in enumerate(items):
        assert isinstance(gsm8k.verify(text, "5"), bool)
        decision, _, _ = math_flex.prepare(text, fuzz.GOLDS[k % len(fuzz.GOLDS)])
        assert decision is not None, (shape, text)  # refused by a gate or decided in-process


def test_ifeval_and_gsm8k_do_not_wait_for_a_math_item_being_killed():
    ifeval = load_reward("ifeval")
    gt = '{"func_name": "validate_lowercase"}'
    assert ifeval(None, ["all lower case", "Not Lower"], ground_truth=[gt, gt]) == [10.0, 0.0]  # warm both workers
    stuck: dict[str, object] = {}

    def math_call():
        stuck["out"] = run_limited("time:sleep", [(60,)], timeout=4.0, default="late", pool="math")
        stuck["done"] = time.monotonic()

    thread = threading.Thread(target=math_call)
    thread.start()
    time.sleep(0.5)  # the math pool's lock is held and its item is running
    assert ifeval(None, ["all lower case", "NOT LOWER"], ground_truth=[gt, gt]) == [10.0, 0.0]
    assert load_reward("gsm8k")(None, ["#### 7"], ground_truth=["7"]) == [10.0]
    finished = time.monotonic()
    thread.join(timeout=60)
    assert stuck["out"] == ["late"]
    assert finished < stuck["done"]  # they did not queue behind the math item
