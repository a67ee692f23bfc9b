"""Bundled arithmetic word problems for the CPU quickstart.

The quickstart must teach a tiny random model something a verifier can check, offline, in minutes, and leave
each later stage something to improve, as in the paper's SFT -> DPO -> RLVR table. Short one-step word problems
("Mia has 4 shells and finds 5 more...") have answers the GSM8K verifier can read, so the same rows serve SFT,
on-policy DPO pairs, RLVR prompts and held-out evaluation.

The SFT rows mix two sources of different quality, as real SFT mixtures do:

* worked answers, always right: ``"4 + 5 = 9. The answer is 9."``;
* a low-quality source that guesses: ``"My guess is 7."`` with a random number, right only by chance.

How often a question gets the worked answer depends on its phrasing (`WORKED_SHARE`, 25% to 70% per template), so
SFT, which imitates its data, answers some phrasings by working and guesses on the others. The verifier then
tells DPO (on-policy pairs) and RLVR which habit pays: the gain after SFT comes from dropping the guesses, not
from new arithmetic, which a one-million-parameter model learns only slowly. Sums stay at most 10 so SFT learns
the worked arithmetic reliably (three epochs in `recipes/quickstart/sft.yaml`).

Everything is generated from a seed, so `python -m tulu_recipes.quickstart.data OUT_DIR` rewrites the
shipped files byte for byte.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

NAMES = ["Mia", "Tom", "Ava", "Leo", "Zoe", "Sam", "Ivy", "Max", "Eli", "Ada", "Ben", "Kai"]
ITEMS = ["apples", "shells", "stamps", "marbles", "books", "coins", "cards", "pens", "stickers", "eggs"]
ADD = [
    "{n} has {a} {x} and finds {b} more. How many {x} does {n} have now?",
    "{n} had {a} {x}. A friend gave {n} {b} more {x}. How many {x} does {n} have?",
    "There are {a} {x} in a box and {n} puts in {b} more. How many {x} are in the box?",
]
SUB = [
    "{n} has {a} {x} and gives away {b}. How many {x} does {n} have left?",
    "{n} had {a} {x} and lost {b} of them. How many {x} are left?",
    "There are {a} {x} in a bag. {n} takes out {b}. How many {x} are still in the bag?",
]
TEMPLATES = ADD + SUB
# Share of SFT rows per template (in TEMPLATES order) answered by the worked source; the rest are guesses.
# Each operation has a phrasing SFT works on (> 50%), one it half-guesses, and one it guesses on.
WORKED_SHARE = [0.25, 0.4, 0.65, 0.3, 0.45, 0.7]
MAX_VALUE = 10


def make_problem(rng: random.Random) -> dict:
    """One word problem: question, template index, worked answer and gold number (all results in 0..10)."""
    name, item, template = rng.choice(NAMES), rng.choice(ITEMS), rng.randrange(len(TEMPLATES))
    if template < len(ADD):
        a = rng.randint(1, MAX_VALUE - 1)
        b = rng.randint(1, MAX_VALUE - a)
        answer, work = a + b, f"{a} + {b}"
    else:
        a, b = sorted((rng.randint(1, MAX_VALUE), rng.randint(1, MAX_VALUE)), reverse=True)
        answer, work = a - b, f"{a} - {b}"
    question = TEMPLATES[template].format(n=name, x=item, a=a, b=b)
    return {
        "question": question,
        "template": template,
        "solution": f"{work} = {answer}. The answer is {answer}.",
        "answer": str(answer),
    }


def sft_answer(problem: dict, rng: random.Random) -> str:
    """The worked solution with the template's share, else a guess from the low-quality source."""
    if rng.random() < WORKED_SHARE[problem["template"]]:
        return problem["solution"]
    return f"My guess is {rng.randint(0, MAX_VALUE)}."


def build(seed: int = 1234) -> dict[str, list[dict]]:
    """The quickstart splits: disjoint questions for SFT, preference prompts, RLVR prompts and evaluation."""
    rng = random.Random(seed)
    seen: set[str] = set()

    def fresh(n: int) -> list[dict]:
        rows = []
        while len(rows) < n:
            p = make_problem(rng)
            if p["question"] not in seen:
                seen.add(p["question"])
                rows.append(p)
        return rows

    eval_rows, sft_rows, pref_rows, rl_rows = fresh(200), fresh(6000), fresh(300), fresh(400)

    def verifiable(rows: list[dict]) -> list[dict]:
        return [
            {"messages": [{"role": "user", "content": p["question"]}], "ground_truth": p["answer"], "dataset": "gsm8k"}
            for p in rows
        ]

    return {
        "sft": [
            {
                "messages": [
                    {"role": "user", "content": p["question"]},
                    {"role": "assistant", "content": sft_answer(p, rng)},
                ]
            }
            for p in sft_rows
        ],
        "prompts": verifiable(pref_rows),
        "rlvr": verifiable(rl_rows),
        "eval": verifiable(eval_rows),
    }


def write(out_dir: str | Path, seed: int = 1234) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, rows in build(seed).items():
        path = out / f"{split}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        paths.append(path)
    return paths


def corpus(seed: int = 1234) -> list[str]:
    """Every text the quickstart will show the tokenizer, used to train it."""
    texts = []
    for rows in build(seed).values():
        for row in rows:
            texts.extend(m["content"] for m in row["messages"])
    return texts


if __name__ == "__main__":
    for p in write(sys.argv[1] if len(sys.argv) > 1 else "recipes/quickstart/data"):
        print(p)
