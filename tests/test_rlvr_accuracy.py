"""Greedy held-out accuracy (tulu_recipes/quickstart/accuracy.py) on the tiny offline model."""

import json
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from tulu_recipes.chat_templates import load_chat_template
from tulu_recipes.evaluation.decoding import generate_greedy
from tulu_recipes.quickstart.accuracy import greedy_accuracy

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "quickstart" / "tiny-base"
EVAL = ROOT / "recipes" / "quickstart" / "data" / "eval.jsonl"


def exact_text(prompts, completions, ground_truth, **kwargs):
    return [10.0 if c == g else 0.0 for c, g in zip(completions, ground_truth, strict=True)]


def test_accuracy_scores_greedy_completions_with_the_verifier():
    tokenizer = AutoTokenizer.from_pretrained(TINY)
    tokenizer.chat_template = load_chat_template("tulu").inference
    side = tokenizer.padding_side
    model = AutoModelForCausalLM.from_pretrained(TINY)
    rows = [json.loads(line) for line in EVAL.read_text().splitlines()[:6]]
    completions = generate_greedy(model, tokenizer, [r["messages"] for r in rows], max_new_tokens=8, batch_size=4)
    # greedy and independent of how prompts are batched (left padding); the tokenizer's padding side is restored
    assert completions == generate_greedy(model, tokenizer, [r["messages"] for r in rows], max_new_tokens=8)
    assert tokenizer.padding_side == side and len(completions) == 6

    # the registry's GSM8K verifier: the untrained model writes no number, so nothing is correct
    result = greedy_accuracy(model, tokenizer, rows, reward="gsm8k", max_new_tokens=8)
    assert result.accuracy == 0.0 and result.per_dataset == {"gsm8k": 0.0}

    # a reward function in TRL's contract; rows 1 and 4 get their own completion as gold
    for i in (1, 4):
        rows[i]["ground_truth"] = completions[i]
    rows[4]["dataset"] = "other"
    result = greedy_accuracy(model, tokenizer, rows, reward=exact_text, max_new_tokens=8, batch_size=4)
    assert result.completions == completions
    assert result.correct == [False, True, False, False, True, False]
    assert result.accuracy == 2 / 6
    assert result.per_dataset == {"gsm8k": 1 / 5, "other": 1.0}
