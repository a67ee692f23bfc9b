"""On-policy preference pairs for the quickstart's DPO stage, judged by a verifier instead of an LLM.

The paper found on-policy pairs help (§5.3, Table 17): one side of each pair comes from the SFT model itself.
Here every side does: the SFT model answers each prompt of `prompts.jsonl` several times at temperature ~1, the
GSM8K verifier scores each answer (correct 1, wrong 0), and the same `build_preference_pair` the LLM-judge
pipeline uses turns the scored candidates into one pair (a correct answer chosen over a wrong one). Prompts whose
samples are all right or all wrong give no pair.

    python -m tulu_recipes.quickstart.on_policy SFT_DIR PROMPTS.jsonl OUT.jsonl [--samples 8] [--temperature 1.0]
        [--dpo-recipe recipes/quickstart/dpo.yaml --write-recipe OUT_DIR/dpo.yaml]

Output rows: Tülu-style `chosen`/`rejected` full conversations plus ratings, readable by the DPO stage. With
`--dpo-recipe`, a copy of that DPO recipe whose `dataset_mixer` is the new pairs file is written too (other
`./` paths made absolute), so the DPO stage runs on the on-policy pairs with every other setting unchanged.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from tulu_recipes.evaluation.decoding import generate_chat
from tulu_recipes.generation.pairs import build_preference_pair
from tulu_recipes.quickstart.accuracy import read_rows


@dataclass
class OnPolicyStats:
    prompts: int
    samples: int
    sample_accuracy: float
    pairs: int


def sample_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[list[dict]],
    samples: int,
    temperature: float,
    max_new_tokens: int,
    batch_size: int = 32,
    progress: str | None = "on-policy samples",
) -> list[list[str]]:
    """`samples` sampled completions per chat prompt (chat template, left padding, no added BOS), with a progress
    bar over the prompts unless `progress` is None."""
    return generate_chat(
        model,
        tokenizer,
        prompts,
        max_new_tokens,
        batch_size,
        num_return_sequences=samples,
        progress=progress,
        do_sample=True,
        temperature=temperature,
        top_p=1.0,
        top_k=0,
    )


def build_pairs(
    rows: Sequence[dict], completions: Sequence[Sequence[str]], reward: str, seed: int, model_name: str
) -> tuple[list[dict], float]:
    """Score every sample with the verifier and binarize each prompt's samples; returns (pairs, sample accuracy)."""
    from rewards import load_reward

    scorer = load_reward(reward, value=1.0)
    rng = random.Random(seed)
    pairs, correct, total = [], 0, 0
    for row, texts in zip(rows, completions, strict=True):
        scores = scorer(
            completions=list(texts),
            ground_truth=[row["ground_truth"]] * len(texts),
            dataset=[row.get("dataset", reward)] * len(texts),
        )
        correct += sum(1 for s in scores if s)
        total += len(texts)
        candidates = [{"text": t, "model": model_name, "score": s} for t, s in zip(texts, scores, strict=True)]
        pair = build_preference_pair(list(row["messages"]), candidates, rng)
        if pair is not None:
            pairs.append(pair)
    return pairs, correct / max(total, 1)


def write_on_policy_pairs(
    model_dir: str | Path,
    prompts_path: str | Path,
    out_path: str | Path,
    samples: int = 8,
    temperature: float = 1.0,
    max_new_tokens: int = 32,
    reward: str = "gsm8k",
    seed: int = 0,
    limit: int | None = None,
) -> OnPolicyStats:
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    rows = read_rows(prompts_path)[:limit]
    completions = sample_completions(
        model, tokenizer, [r["messages"] for r in rows], samples, temperature, max_new_tokens
    )
    pairs, accuracy = build_pairs(rows, completions, reward, seed, Path(model_dir).name)
    if not pairs:
        raise RuntimeError(f"no preference pair: the {samples} samples of every prompt were all right or all wrong")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    return OnPolicyStats(len(rows), samples, accuracy, len(pairs))


def derive_dpo_recipe(recipe: str | Path, pairs_path: str | Path, out_recipe: str | Path) -> Path:
    """Copy a DPO recipe with `dataset_mixer` replaced by the pairs file; its relative paths are rewritten relative
    to the copy's folder, so the copy runs from anywhere and shows no machine path."""
    import yaml

    from tulu_recipes.config import _resolve_relative, _unresolve, load_yaml

    recipe = Path(recipe).resolve()
    out = Path(out_recipe)
    seen: dict[str, str] = {}
    data = _resolve_relative(load_yaml(recipe), recipe.parent, seen)
    data.pop("dataset_name", None)
    pairs = str(Path(pairs_path).resolve())
    seen[pairs] = "./"  # any relative spelling: rewritten relative to the copy's folder below
    data["dataset_mixer"] = [{"path": pairs, "fraction": 1.0}]
    out.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(_unresolve(data, seen, out.parent), sort_keys=False, allow_unicode=True)
    out.write_text(
        f"# {recipe.name} with the on-policy pairs of {Path(pairs_path).name} (tulu_recipes.quickstart."
        f"on_policy)\n{body}",
        encoding="utf-8",
    )
    return out


def main(argv: list[str] | None = None) -> OnPolicyStats:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("prompts")
    parser.add_argument("output")
    parser.add_argument("--samples", type=int, default=8, help="Samples per prompt.")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--reward", default="gsm8k", help="Verifier that judges the samples.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="Use only the first N prompts.")
    parser.add_argument("--dpo-recipe", default=None, help="DPO recipe to copy with the new pairs as its data.")
    parser.add_argument("--write-recipe", default=None, help="Where the derived DPO recipe goes.")
    args = parser.parse_args(argv)
    if (args.dpo_recipe is None) != (args.write_recipe is None):
        parser.error("--dpo-recipe and --write-recipe go together")
    stats = write_on_policy_pairs(
        args.model,
        args.prompts,
        args.output,
        args.samples,
        args.temperature,
        args.max_new_tokens,
        args.reward,
        args.seed,
        args.limit,
    )
    print(
        f"On-policy pairs: {stats.pairs} from {stats.prompts} prompts x {stats.samples} samples "
        f"(sample accuracy {stats.sample_accuracy:.1%}) -> {args.output}"
    )
    if args.dpo_recipe:
        print(f"DPO recipe on these pairs: {derive_dpo_recipe(args.dpo_recipe, args.output, args.write_recipe)}")
    return stats


if __name__ == "__main__":
    main()
