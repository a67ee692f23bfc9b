"""Build ``verifier_audit.jsonl``, the example input of ``tulu-recipes verifier-audit``.

Run: ``python recipes/examples/make_verifier_audit.py`` (rewrites the file next to this script; deterministic).

A handful of golds written for this example, in the shapes of MATH-500 and GSM8K answers (no data set is copied),
each turned into completions by perturbations whose truth is known by construction: the gold in a box, in another
form, on a Minerva line, in Markdown bold, after a ``<think>`` draft; a wrong value; two answers (a hedge); no
answer; the gold only negated; GSM8K number words, ranges and thousands commas. ``label`` says what a careful
grader says; ``category`` names the perturbation; ``dataset`` routes the row under ``--verifier verifiable``.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("verifier_audit.jsonl")
WORK = "Working through the problem step by step, we simplify and check the result."

# gold, the same value in another form, a wrong value
MATH = [
    ("\\frac{3}{4}", "0.75", "\\frac{4}{3}"),
    ("2\\sqrt{2}", "\\sqrt{8}", "\\sqrt{2}"),
    ("(1, -2)", "(1,-2)", "(-2, 1)"),
    ("x^2+2x+1", "(x+1)^2", "(x-1)^2"),
]
# gold, the gold as a model might write it, in words, a wrong value
GSM8K = [("72", "72", "seventy-two", "74"), ("1450000", "1,450,000", "1.45 million", "1400000"),
         ("18", "$18.00", "eighteen", "17")]  # fmt: skip


def math_rows(gold: str, other: str, wrong: str) -> list[tuple[str, bool, str]]:
    return [
        (f"{WORK} So the answer is $\\boxed{{{gold}}}$.", True, "boxed"),
        (f"{WORK} Hence $\\boxed{{{other}}}$.", True, "other-form"),
        (f"{WORK}\nFinal Answer: The final answer is ${gold}$. I hope it is correct.", True, "minerva"),
        (f"{WORK} Therefore the answer is:\n\n**{gold}**", True, "bold"),
        (
            f"<think>Maybe it is $\\boxed{{{wrong}}}$? No.</think>\n{WORK} The answer is $\\boxed{{{gold}}}$.",
            True,
            "think-draft",
        ),  # fmt: skip
        (f"{WORK} So the answer is $\\boxed{{{wrong}}}$.", False, "wrong-value"),
        (f"{WORK} It is $\\boxed{{{wrong}}}$, or perhaps $\\boxed{{{gold}}}$.", False, "hedge"),
        (f"{WORK} I could not finish the computation.", False, "no-answer"),
        (f"{WORK} The answer is not ${gold}$.", False, "negated"),
    ]


def gsm8k_rows(gold: str, shown: str, words: str, wrong: str) -> list[tuple[str, bool, str]]:
    return [
        (f"{WORK}\n#### {shown}", True, "hashes"),
        (f"{WORK} So the answer is {shown}.", True, "answer-is"),
        (f"{WORK} So the answer is {words}.", True, "number-words"),
        (f"{WORK}\n#### {wrong}", False, "wrong-value"),
        (f"{WORK} So the answer is {shown} or {wrong}.", False, "hedge"),
        (f"{WORK} I could not finish the computation.", False, "no-answer"),
    ]


def rows() -> list[dict]:
    out = []
    for gold, other, wrong in MATH:
        for completion, label, category in math_rows(gold, other, wrong):
            out.append({"completion": completion, "ground_truth": gold, "label": label, "category": category,
                        "dataset": "math"})  # fmt: skip
    for gold, shown, words, wrong in GSM8K:
        for completion, label, category in gsm8k_rows(gold, shown, words, wrong):
            out.append({"completion": completion, "ground_truth": gold, "label": label,
                        "category": f"gsm8k/{category}", "dataset": "gsm8k"})  # fmt: skip
    return out


def render() -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {len(rows())} rows to {OUT}")
