"""Hand-written, hand-labelled completions in the styles real chat models write, for GSM8K and MATH.

Each item is ``(completion, gold, label, kind)``: ``label`` is what a careful grader says (True = the one
committed answer is the gold), ``kind`` names the style or failure class. The MATH set mixes right and wrong
answers; about a third of the right answers are written in a different symbolic form than the gold
(``(x+1)^2`` for ``x^2+2x+1``, ``\\frac{1}{\\sqrt{2}}`` for ``\\frac{\\sqrt{2}}{2}``), which string rules cannot
decide. Styles: Llama (``## Step 1: ...`` then ``The final answer is: $\\boxed{X}$``), Qwen (``**Final Answer**``
then ``\\[ \\boxed{X} \\]``), Minerva (``Final Answer: The final answer is $X$. I hope it is correct.``), Tülu
8-shot (``So the answer is $X$.``), GSM8K (``#### N``). Used by ``benchmarks/verifiers.py`` and by
``tests/test_rewards_realistic.py``; written for this project (no data set is copied).
"""

from __future__ import annotations

Item = tuple[str, str, bool, str]

# gold, right forms (plain), right forms needing symbolic equivalence, wrong forms
MATH_PROBLEMS: list[tuple[str, list[str], list[str], list[str]]] = [
    (
        "\\frac{\\sqrt{2}}{2}",
        ["\\dfrac{\\sqrt{2}}{2}"],
        ["\\frac{1}{\\sqrt{2}}"],
        ["\\sqrt{2}", "\\frac{\\sqrt{3}}{2}"],
    ),
    ("x^2+2x+1", ["x^2 + 2x + 1"], ["(x+1)^2", "1+2x+x^2"], ["x^2+2x+2", "(x-1)^2"]),
    ("137 \\frac{1}{2}", ["137.5", "\\frac{275}{2}"], [], ["68.5", "137"]),
    ("5, 125", ["125, 5", "5 \\text{ and } 125"], [], ["5125", "5"]),
    ("-3, 2", ["x = 2 \\text{ or } x = -3", "2, -3"], [], ["2", "x = 3 \\text{ or } x = -2"]),
    ("3, -3", ["x = \\pm 3"], [], ["3"]),
    ("\\text{A, C}", ["\\text{C, A}"], [], ["\\text{A}", "\\text{A, B}"]),
    ("\\text{(C)}", ["\\textbf{(C)}", "C"], [], ["\\text{(B)}"]),
    ("24", ["24 \\text{ cm}^2", "24\\text{ square units}"], [], ["25 \\text{ cm}^2", "48"]),
    ("\\emptyset", ["\\varnothing"], [], ["\\{0\\}"]),
    ("y = 2x + 3", ["2x + 3 = y"], [], ["y = 2x - 3"]),
    ("\\frac{1}{3}", ["0.\\overline{3}"], ["\\frac{2}{6}"], ["0.33", "\\frac{1}{4}"]),
    (
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
        ["\\left(\\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array}\\right)"],
        [],
        ["\\begin{pmatrix} 1 & 2 \\\\ 4 & 3 \\end{pmatrix}"],
    ),
    ("\\frac{1}{2^{98}}", [], ["2^{-98}"], ["\\frac{1}{2^{99}}"]),
    ("2\\sqrt{3}", [], ["\\sqrt{12}"], ["3\\sqrt{2}"]),
    ("(1, 2)", ["(1,2)"], [], ["(2, 1)"]),
    ("[3, 4)", ["[3,4)"], [], ["(3, 4]"]),
    ("\\frac{\\pi}{4}", [], ["\\frac{1}{4}\\pi"], ["\\frac{\\pi}{2}"]),
    ("(-\\infty, 2) \\cup (3, \\infty)", ["(-\\infty,2)\\cup(3,\\infty)"], [], ["(-\\infty, 2] \\cup (3, \\infty)"]),
    ("\\frac{x+1}{x-1}", [], ["\\frac{-x-1}{1-x}"], ["\\frac{x-1}{x+1}"]),
    ("90^\\circ", ["90"], [], ["45^\\circ"]),
    ("1+\\sqrt{5}", [], ["\\sqrt{5}+1"], ["\\sqrt{5}-1"]),
    ("\\frac{3}{4}", ["0.75"], [], ["\\frac{4}{3}"]),
    ("\\text{Tuesday}", ["\\text{tuesday}"], [], ["\\text{Monday}"]),
    ("4+6\\sqrt{2}", [], ["6\\sqrt{2}+4", "2(2+3\\sqrt{2})"], ["4+6\\sqrt{3}"]),
    ("\\frac{9}{4}", [], ["\\left(\\frac{3}{2}\\right)^2"], ["\\frac{4}{9}"]),
    ("8\\pi", [], ["\\pi \\cdot 8"], ["16\\pi"]),
    ("-\\frac{1}{2}", ["-0.5"], ["\\frac{-1}{2}"], ["\\frac{1}{2}"]),
]

_REASONING = (
    "We are given that $a + b = 7$ and $ab = 12$, so $a$ and $b$ are the roots of $t^2 - 7t + 12 = 0$. "
    "Checking each case carefully, we find the value below."
)


def _llama(x: str) -> str:
    return (
        f"## Step 1: Understand the problem\n{_REASONING}\n\n## Step 2: Compute\nSimplifying gives the result."
        f"\n\nThe final answer is: $\\boxed{{{x}}}$"
    )


def _qwen(x: str) -> str:
    return (
        f"To solve this, note that {_REASONING}\n\nThus the answer follows.\n\n**Final Answer**\n\\[ \\boxed{{{x}}} \\]"
    )


def _minerva(x: str) -> str:
    return f"{_REASONING}\nFinal Answer: The final answer is ${x}$. I hope it is correct."


def _tulu(x: str) -> str:
    return f"{_REASONING} So the answer is ${x}$."


MATH_STYLES = (("llama", _llama), ("qwen", _qwen), ("minerva", _minerva), ("tulu", _tulu))


def math_items() -> list[Item]:
    """Every MATH problem in every style, right (plain and symbolic forms) and wrong, plus failure classes."""
    items: list[Item] = []
    for k, (gold, plain, symbolic, wrong) in enumerate(MATH_PROBLEMS):
        for j, (name, style) in enumerate(MATH_STYLES):
            for form in plain:
                items.append((style(form), gold, True, f"{name}/right"))
            for form in symbolic:
                items.append((style(form), gold, True, f"{name}/symbolic"))
            if (j + k) % 2 == 0:  # wrong answers in half of the styles keep right and wrong about balanced
                for form in wrong:
                    items.append((style(form), gold, False, f"{name}/wrong"))
    gold = "\\frac{3}{4}"
    items += [
        (
            "Final Answer: The final answer is either $\\frac34$ or $\\frac43$. I hope it is correct.",
            gold,
            False,
            "hedge/either-or",
        ),
        ("Final Answer: The final answer is $\\frac{3}{4}$ or $1$. I hope it is correct.", gold, False, "hedge/or"),
        ("So the answer is $\\frac34, \\frac12$.", gold, False, "hedge/two-values"),
        (
            "The ratio is \\boxed{\\frac{1}{2}}. Wait, recomputing, it is \\boxed{\\frac{3}{4}}.",
            gold,
            False,
            "hedge/two-boxes",
        ),
        ("\\boxed{\\frac{1}{2}}\n#### \\frac{3}{4}", gold, False, "hedge/box-then-hashes"),
        ("The probability is $\\boxed{\\frac34}$, that is, $\\boxed{0.75}$.", gold, True, "one-value/two-forms"),
        (
            "Please put your final answer within \\boxed{}.\n\nWe get $\\frac34$.\n\n\\boxed{\\frac{3}{4}}",
            gold,
            True,
            "empty-box",
        ),
        ("The answer is not $\\frac{1}{2}$.", "\\frac{1}{2}", False, "negation"),
        ("The answer is not $\\frac{1}{2}$, it is $\\frac{3}{4}$.", gold, True, "negation/then-value"),
        ("The answer is $\\frac{3}{4}$ (since $3 \\div 4 = 0.75$).", gold, True, "aside"),
        (
            "Adding gives $15\\frac{39}{40}$, so the answer is $\\boxed{15\\frac{39}{40}}$, "
            "i.e. $\\boxed{\\frac{639}{40}}$.",
            "\\frac{639}{40}",
            True,
            "mixed-number/two-forms",
        ),
        ("The sum is \\boxed{\\frac{1}{2^{99}}}.", "\\frac{1}{2^{98}}", False, "tiny-values"),
        ("The largest is \\boxed{9!!!!!!!!!!}.", "9", False, "bounded/factorial-chain"),
        ("So \\boxed{(10^{100})!}.", "1", False, "bounded/huge-factorial"),
        ("So \\boxed{\\binom{10^9}{10^5}}.", "1", False, "bounded/huge-binomial"),
        ("So \\boxed{" + "(" * 40 + "1" + ")" * 40 + "}.", "1", False, "bounded/deep-parentheses"),
        ("So \\boxed{" + "\\left(" * 30 + "1" + "\\right)" * 30 + "}.", "1", False, "bounded/deep-left"),
    ]
    return items


def gsm8k_items() -> list[Item]:
    """GSM8K completions: Tülu 8-shot, ``####``, Llama, Minerva, Qwen; right, wrong and every failure class."""
    work = "Natalia sold 48 clips in April and half as many in May, so 48 / 2 = 24 clips in May. 48 + 24 = 72."
    items: list[Item] = []
    for gold, wrong in (("72", "74"), ("1450000", "1400000"), ("-5", "5"), ("18", "17")):
        shown = f"{int(gold):,}" if gold.lstrip("-").isdigit() and len(gold) > 4 else gold
        for label, value in ((True, shown), (False, wrong)):
            items += [
                (f"{work} So the answer is {value}.", gold, label, "tulu"),
                (f"{work}\n#### {value}", gold, label, "hashes"),
                (f"## Step 1: Count\n{work}\n\nThe final answer is: $\\boxed{{{value}}}$", gold, label, "llama"),
                (f"{work}\nFinal Answer: The final answer is ${value}$. I hope it is correct.", gold, label, "minerva"),
                (f"{work}\n\n**Final Answer**\n\\[ \\boxed{{{value}}} \\]", gold, label, "qwen"),
            ]
    items += [
        (f"{work} The answer is not 70, it is 72.", "72", True, "negation/then-value"),
        (f"{work} The answer is not 72, it is 70.", "72", False, "negation/then-value"),
        ("The answer is not $72$.", "72", False, "negation"),
        ("The answer is 18 (= 6 × 3).", "18", True, "aside"),
        ("The answer is 18 (6 + 12 = 18).", "18", True, "aside"),
        ("The answer is either $3$ or $4$.", "3", False, "hedge/either-or"),
        ("Final Answer: The final answer is $3$ or $4$. I hope it is correct.", "3", False, "hedge/or"),
        ("The answer is 12, 15.", "12", False, "hedge/two-values"),
        ("The answer is 12, 15.", "15", False, "hedge/two-values"),
        ("So she has \\boxed{18} apples.\n#### 19", "19", False, "hedge/box-then-hashes"),
        ("So she has \\boxed{18} apples.\n#### 18", "18", True, "consistent/box-and-hashes"),
        (
            "Please reason step by step and put the answer in \\boxed{}.\n6 * 3 = 18\n\\boxed{18}",
            "18",
            True,
            "empty-box",
        ),
        ("She pays $18.00 in total.\n#### 18.00", "18", True, "decimal"),
        ("The answer is 72, since 48 + 24 = 72.", "72", True, "trailing-reason"),
        ("The temperature drops to −5 degrees. The answer is −5.", "-5", True, "unicode-minus"),
    ]
    return items
