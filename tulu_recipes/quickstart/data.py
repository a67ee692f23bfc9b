"""Bundled arithmetic word problems for the CPU quickstart.

The quickstart must teach a tiny random model something a verifier can check, offline, in minutes. Short
one-step word problems ("Mia has 12 shells and finds 7 more...") have answers the GSM8K verifier reads from
"The answer is N.", so the same rows serve SFT, on-policy DPO pairs, RLVR prompts and held-out evaluation.
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
SYSTEM_HINT = "Solve the problem. End with 'The answer is N.'"


def make_problem(rng: random.Random, max_value: int = 10) -> dict:
    """One word problem with its worked answer and gold number."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = rng.randint(1, max_value), rng.randint(1, max_value)
    if rng.random() < 0.5:
        question = rng.choice(ADD).format(n=name, x=item, a=a, b=b)
        answer = a + b
        work = f"{a} + {b} = {answer}."
    else:
        a, b = max(a, b), min(a, b)
        question = rng.choice(SUB).format(n=name, x=item, a=a, b=b)
        answer = a - b
        work = f"{a} - {b} = {answer}."
    return {"question": question, "solution": f"{work} The answer is {answer}.", "answer": str(answer)}


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

    # Operands up to 10 keep the task within reach of a one-million-parameter model in a few CPU minutes, while
    # leaving SFT well short of perfect so that DPO and RLVR have something to improve.
    eval_rows, sft_rows, pref_rows, rl_rows = fresh(200), fresh(3000), fresh(300), fresh(400)
    return {
        "sft": [
            {"messages": [{"role": "user", "content": p["question"]},
                          {"role": "assistant", "content": p["solution"]}]}
            for p in sft_rows
        ],
        "prompts": [{"messages": [{"role": "user", "content": p["question"]}], "ground_truth": p["answer"],
                     "dataset": "gsm8k"} for p in pref_rows],
        "rlvr": [{"messages": [{"role": "user", "content": p["question"]}], "ground_truth": p["answer"],
                  "dataset": "gsm8k"} for p in rl_rows],
        "eval": [{"messages": [{"role": "user", "content": p["question"]}], "ground_truth": p["answer"],
                  "dataset": "gsm8k"} for p in eval_rows],
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
