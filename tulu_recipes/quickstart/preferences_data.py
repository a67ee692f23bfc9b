"""Bundled preference pairs for the CPU quickstart's DPO and reward-model stages.

Each pair reuses a prompt of `prompts.jsonl` (one-step word problems with a gold answer): the chosen answer is the
correct worked solution in the SFT style ("12 + 7 = 19. The answer is 19."), the rejected one is wrong in one of
two ways a small model actually makes: the wrong operation, or an arithmetic slip of a few units. The operands are
read back from the question, so the file depends only on `prompts.jsonl` and a seed:
`python -m tulu_recipes.quickstart.preferences_data [PROMPTS] [OUT]` rewrites the shipped file byte for byte.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

DEFAULT_PROMPTS = Path(__file__).resolve().parents[2] / "recipes" / "quickstart" / "data" / "prompts.jsonl"


def worked(a: int, b: int, op: str) -> str:
    value = a + b if op == "+" else a - b
    return f"{a} {op} {b} = {value}. The answer is {value}."


def wrong_answer(a: int, b: int, op: str, gold: int, rng: random.Random) -> str:
    """A wrong worked answer: the other operation, or the right operation with a slip of 1-3."""
    other = "-" if op == "+" else "+"
    other_value = a + b if other == "+" else a - b
    if other_value != gold and other_value >= 0 and rng.random() < 0.5:
        return worked(a, b, other)
    slip = rng.choice([-3, -2, -1, 1, 2, 3])
    value = gold + slip if gold + slip >= 0 else gold + abs(slip)
    return f"{a} {op} {b} = {value}. The answer is {value}."


def pair_for(row: dict, rng: random.Random) -> dict:
    """One preference pair for a prompt row with `messages` (a single user turn) and `ground_truth`."""
    question = row["messages"][-1]["content"]
    numbers = [int(n) for n in re.findall(r"\d+", question)]
    if len(numbers) != 2:
        raise ValueError(f"expected two operands in {question!r}")
    a, b = numbers
    gold = int(row["ground_truth"])
    op = "+" if a + b == gold else "-"
    if op == "-" and a - b != gold:
        raise ValueError(f"{question!r}: gold answer {gold} is neither {a}+{b} nor {a}-{b}")
    return {
        "prompt": row["messages"],
        "chosen": [{"role": "assistant", "content": worked(a, b, op)}],
        "rejected": [{"role": "assistant", "content": wrong_answer(a, b, op, gold, rng)}],
    }


def build(prompts_path: str | Path = DEFAULT_PROMPTS, seed: int = 4321) -> list[dict]:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in Path(prompts_path).read_text(encoding="utf-8").splitlines() if line]
    return [pair_for(row, rng) for row in rows]


def write(out_path: str | Path, prompts_path: str | Path = DEFAULT_PROMPTS, seed: int = 4321) -> Path:
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pairs = build(prompts_path, seed)
    out.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    return out


if __name__ == "__main__":
    prompts = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PROMPTS
    target = sys.argv[2] if len(sys.argv) > 2 else Path(prompts).with_name("preferences.jsonl")
    print(write(target, prompts))
