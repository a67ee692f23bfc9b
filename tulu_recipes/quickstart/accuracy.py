"""Greedy held-out accuracy: generate one answer per prompt with transformers, score it with a verifier.

The quickstart prints this before and after RLVR; an evaluation stage can reuse `greedy_accuracy`.

    python -m tulu_recipes.quickstart.accuracy MODEL_DIR EVAL.jsonl [--reward gsm8k] [--max-new-tokens 48]

Rows are open-instruct RLVR rows (`messages` ending in a user turn, `ground_truth`, `dataset`). The prompt is
rendered with the model's own chat template (`add_generation_prompt=True`, no added BOS, as in Tülu 3), and a
row is correct when the verifier returns its full reward (> 0).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from tulu_recipes.evaluation.decoding import generate_greedy


@dataclass
class AccuracyResult:
    """Fraction of rows the verifier accepts, overall and per `dataset` value, with the completions."""

    accuracy: float
    per_dataset: dict[str, float]
    completions: list[str] = field(repr=False)
    correct: list[bool] = field(repr=False)


def read_rows(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def greedy_accuracy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: Sequence[dict],
    reward: str | Callable[..., list[float | None]] = "gsm8k",
    max_new_tokens: int = 48,
    batch_size: int = 64,
) -> AccuracyResult:
    """Greedy-decode every row's prompt and score it with a verifier: a `rewards` registry name or a reward
    function in TRL's contract (`f(prompts, completions, ground_truth, dataset, ...)`)."""
    if not rows:
        raise ValueError("no rows to evaluate")
    prompts = [row["messages"] for row in rows]
    completions = generate_greedy(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    if isinstance(reward, str):
        from rewards import load_reward

        scorer = load_reward(reward)
    else:
        scorer = reward
    datasets = [str(row.get("dataset", "all")) for row in rows]
    scores = scorer(
        prompts=prompts,
        completions=completions,
        ground_truth=[row["ground_truth"] for row in rows],
        dataset=datasets,
    )
    correct = [s is not None and s > 0 for s in scores]
    per_dataset: dict[str, float] = {}
    for name in sorted(set(datasets)):
        hits = [c for c, d in zip(correct, datasets, strict=True) if d == name]
        per_dataset[name] = sum(hits) / len(hits)
    return AccuracyResult(sum(correct) / len(correct), per_dataset, completions, correct)


def accuracy_of(
    model_dir: str | Path,
    eval_path: str | Path,
    reward: str = "gsm8k",
    max_new_tokens: int = 48,
    limit: int | None = None,
) -> AccuracyResult:
    """Load a saved model + tokenizer (with its chat template) and measure its greedy accuracy on a JSONL file."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    rows = read_rows(eval_path)[:limit]
    return greedy_accuracy(model, tokenizer, rows, reward=reward, max_new_tokens=max_new_tokens)


def main(argv: list[str] | None = None) -> AccuracyResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("eval_file")
    parser.add_argument("--reward", default="gsm8k")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--label", default=None, help="Name printed before the number.")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    result = accuracy_of(args.model, args.eval_file, args.reward, args.max_new_tokens, args.limit)
    label = args.label or args.model
    detail = ", ".join(f"{k} {v:.1%}" for k, v in result.per_dataset.items())
    print(f"{label}: greedy accuracy {result.accuracy:.1%} on {len(result.correct)} held-out prompts ({detail})")
    return result


if __name__ == "__main__":
    main()
