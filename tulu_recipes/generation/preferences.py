"""Synthetic preference data with an LLM judge (paper §5.2-5.3, Table 38).

Rule, in three resumable stages:
1. complete: each prompt gets completions from ``models_per_prompt`` models drawn (seeded, per prompt) from
   the pool, plus the on-policy SFT model when given (``on_policy_model``);
2. judge: every completion is rated 1-5 by the judge, one call per aspect (helpfulness, instruction following,
   honesty, truthfulness); an unparsable judgment is retried, then that rating is missing; N/A is missing.
   With ``judge_batch`` set, the same requests go through the OpenAI Batch API (`.batch`), into the same cache;
3. binarize: score = mean of the present ratings; :func:`~.pairs.build_preference_pair` picks chosen = best,
   rejected = a random strictly lower one (seeded per prompt). Prompts with no such pair are skipped.
Output rows: ``chosen``/``rejected`` message lists (prompt turns included), ``chosen_rating``,
``rejected_rating``, ``chosen_model``, ``rejected_model`` -- read directly by the DPO stage.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tulu_recipes.config import RecipeError

from .backends import Completion, MalformedOutputError, ModelSpec, OpenAIBackend, make_backend
from .batch import BatchConfig, run_batch
from .executor import RetryPolicy, RunSummary, item_id, read_records, records_in_item_order, require_progress, run_items
from .judge import ASPECTS, NA_ASPECTS, judge_messages, parse_rating
from .pairs import build_preference_pair
from .prompts import load_template
from .synthesize import write_jsonl

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]


@dataclass
class PreferencesConfig:
    """Recipe for ``recipes/preferences.py``."""

    prompts: str = field(metadata={"help": "Prompt file (.jsonl/.json) or a datasets name."})
    output_path: str = field(metadata={"help": "Preference dataset JSONL."})
    models: list[dict] = field(default_factory=list, metadata={"help": "Model pool: a list of model specs."})
    judge_model: dict | None = field(default=None, metadata={"help": "Model spec of the judge."})
    on_policy_model: dict | None = field(
        default=None, metadata={"help": "The SFT model's spec; it answers every prompt."}
    )
    prompt_column: str = field(
        default="messages", metadata={"help": "Column with a message list or a plain prompt string."}
    )
    prompt_split: str = field(default="train", metadata={"help": "Split, when prompts is a dataset name."})
    max_prompts: int | None = field(default=None, metadata={"help": "Use only the first N prompts."})
    models_per_prompt: int = field(default=4, metadata={"help": "Pool models sampled per prompt."})
    completions_per_model: int = field(default=1, metadata={"help": "Samples per (prompt, model)."})
    aspects: list[str] = field(default_factory=lambda: list(ASPECTS), metadata={"help": "Judged aspects."})
    templates_dir: str | None = field(default=None, metadata={"help": "Overrides for judge_<aspect>.txt."})
    min_margin: float = field(default=0.0, metadata={"help": "Least score gap between chosen and rejected."})
    judge_temperature: float = field(default=0.0, metadata={"help": "Judge sampling temperature."})
    cache_dir: str | None = field(
        default=None, metadata={"help": "Where stage caches live (default: next to output_path)."}
    )
    max_concurrency: int = field(default=8, metadata={"help": "Requests in flight."})
    max_retries: int = field(default=5, metadata={"help": "Retries per item on transient errors."})
    retry_base_delay: float = field(default=1.0, metadata={"help": "First backoff delay (s)."})
    retry_max_delay: float = field(default=60.0, metadata={"help": "Longest backoff delay (s)."})
    seed: int = field(default=42, metadata={"help": "Seed of model sampling, pair picking and jitter."})
    progress: bool = field(default=True, metadata={"help": "Show progress bars."})
    judge_batch: dict | None = field(
        default=None,
        metadata={
            "help": "Judge through the OpenAI Batch API with these settings (generation.batch.BatchConfig: "
            "shard_size, poll_interval, max_attempts, completion_window, input_cost_per_mtok, output_cost_per_mtok, "
            "status_path); the judge must be an openai backend. None: synchronous requests, as before."
        },
    )


def _as_prompt(value: Any) -> Messages:
    """A plain string becomes one user turn; a conversation is cut after its last user turn."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    messages = [{"role": m["role"], "content": m["content"]} for m in value]
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last_user is None:
        raise ValueError(f"prompt has no user turn: {value!r}")
    return messages[: last_user + 1]


def load_prompts(
    source: str, column: str = "messages", split: str = "train", limit: int | None = None
) -> list[Messages]:
    """Prompts as message lists from a JSONL/JSON file or a ``datasets`` dataset; duplicates removed."""
    path = Path(source)
    if path.exists():
        text = path.read_text(encoding="utf-8")
        rows = json.loads(text) if path.suffix == ".json" else [json.loads(x) for x in text.splitlines() if x.strip()]
        values = [row[column] for row in rows]
    else:
        import datasets

        values = datasets.load_dataset(source, split=split)[column]
    unique: dict[str, Messages] = {}
    for value in values:
        prompt = _as_prompt(value)
        unique.setdefault(item_id(prompt), prompt)
    prompts = list(unique.values())
    return prompts[:limit] if limit is not None else prompts


def completion_items(config: PreferencesConfig, prompts: list[Messages]) -> list[dict[str, Any]]:
    pool = [ModelSpec.from_dict(m).name for m in config.models]
    on_policy = ModelSpec.from_dict(config.on_policy_model).name if config.on_policy_model else None
    items = []
    for prompt in prompts:
        rng = random.Random(f"{config.seed}:{item_id(prompt)}")
        names = rng.sample(pool, min(config.models_per_prompt, len(pool)))
        if on_policy is not None and on_policy not in names:
            names.append(on_policy)
        for name in names:
            for sample in range(config.completions_per_model):
                items.append(
                    {
                        "stage": "complete",
                        "prompt": prompt,
                        "model": name,
                        "sample": sample,
                        "seed": config.seed,
                    }
                )
    return items


def judge_item(config: PreferencesConfig, judge: str, prompt: Messages, response: str, aspect: str) -> dict[str, Any]:
    return {
        "stage": "judge",
        "aspect": aspect,
        "prompt": prompt,
        "response": response,
        "judge": judge,
        "rubric": load_template(f"judge_{aspect}.txt", config.templates_dir),
    }


def make_completion_worker(backends: dict[str, Any]) -> Callable[[dict], Awaitable[dict]]:
    async def work(item: dict[str, Any]) -> dict[str, Any]:
        completion = await backends[item["model"]].agenerate(item["prompt"], seed=int(item_id(item)[:8], 16))
        if not completion.text.strip():
            raise MalformedOutputError(f"{item['model']} returned an empty completion")
        return {
            "text": completion.text,
            "finish_reason": completion.finish_reason,
            "usage": {
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
            },
        }

    return work


def judgment(item: dict[str, Any], completion: Completion) -> dict[str, Any]:
    """A judge item's cached output, from the judge's answer (synchronous or through the Batch API)."""
    rating = parse_rating(completion.text, allow_na=item["aspect"] in NA_ASPECTS)
    return {
        "rating": rating,
        "judgment": completion.text,
        "usage": {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
        },
    }


def make_judge_worker(judge: Any, templates_dir: str | None, temperature: float) -> Callable[[dict], Awaitable[dict]]:
    async def work(item: dict[str, Any]) -> dict[str, Any]:
        messages = judge_messages(item["aspect"], item["prompt"], item["response"], templates_dir)
        return judgment(item, await judge.agenerate(messages, temperature=temperature))

    return work


def batch_judge_config(config: PreferencesConfig, judge: ModelSpec) -> BatchConfig | None:
    """The Batch API settings, checked before any model loads: None when the judge runs synchronously."""
    if config.judge_batch is None:
        return None
    batch = BatchConfig.from_dict(config.judge_batch)
    if judge.backend != "openai" or not judge.base_url:
        raise RecipeError("judge_batch needs judge_model on the openai backend, with the base_url of the OpenAI API")
    return batch


def run_batch_judge(
    config: PreferencesConfig, batch: BatchConfig, judge: OpenAIBackend, items: list[dict], path: Path
) -> RunSummary:
    """The judge items through Batch jobs: the same request bodies and cached records as the synchronous judge."""

    def body(item: dict[str, Any]) -> dict[str, Any]:
        messages = judge_messages(item["aspect"], item["prompt"], item["response"], config.templates_dir)
        return judge.request_body(messages, temperature=config.judge_temperature)

    return run_batch(items, body, judgment, judge.client, path, batch, desc="judge (Batch API)")


def binarize(
    completions: list[dict[str, Any]],
    ratings: dict[tuple[str, str], list[float]],
    seed: int,
    min_margin: float = 0.0,
) -> tuple[list[dict[str, Any]], int]:
    """Group completion records by prompt and build one pair per prompt; returns (pairs, prompts without one).
    ``ratings`` maps (prompt id, response text) to the present ratings of that response."""
    by_prompt: dict[str, tuple[Messages, list[dict[str, Any]]]] = {}
    for record in completions:
        prompt = record["input"]["prompt"]
        key = item_id(prompt)
        text = record["output"]["text"]
        present = ratings.get((key, text), [])
        score = sum(present) / len(present) if present else None
        by_prompt.setdefault(key, (prompt, []))[1].append(
            {"text": text, "model": record["input"]["model"], "score": score}
        )
    pairs, skipped = [], 0
    for key, (prompt, candidates) in by_prompt.items():
        pair = build_preference_pair(prompt, candidates, random.Random(f"{seed}:{key}"), min_margin=min_margin)
        if pair is None:
            skipped += 1
        else:
            pairs.append(pair)
    return pairs, skipped


def generate_preferences(config: PreferencesConfig, backends: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the three stages; ``backends`` (name -> backend) may be injected, e.g. in tests."""
    if not config.models and not config.on_policy_model:
        raise ValueError("give a model pool (models) and/or an on_policy_model")
    judge_spec = ModelSpec.from_dict(config.judge_model or {})
    unknown = set(config.aspects) - set(ASPECTS)
    if unknown:
        raise ValueError(f"unknown aspects {sorted(unknown)}; choose from {ASPECTS}")
    batch = batch_judge_config(config, judge_spec)
    backends = dict(backends or {})
    specs = [ModelSpec.from_dict(m) for m in config.models]
    if config.on_policy_model:
        specs.append(ModelSpec.from_dict(config.on_policy_model))
    for spec in [*specs, judge_spec]:
        if spec.name not in backends:
            backends[spec.name] = make_backend(spec)
    cache_dir = Path(config.cache_dir) if config.cache_dir else Path(config.output_path).parent
    stem = Path(config.output_path).name
    retry = RetryPolicy(config.max_retries, config.retry_base_delay, config.retry_max_delay, seed=config.seed)
    run = {"max_concurrency": config.max_concurrency, "retry": retry, "progress": config.progress}

    prompts = load_prompts(config.prompts, config.prompt_column, config.prompt_split, config.max_prompts)
    items = completion_items(config, prompts)
    completions_path = cache_dir / f"{stem}.completions.jsonl"
    complete_summary = run_items(items, make_completion_worker(backends), completions_path, desc="complete", **run)
    require_progress(complete_summary, completions_path, [s.endpoint for s in specs], "complete")
    completions = records_in_item_order(completions_path, items)

    judge_items = {}
    for record in completions:
        for aspect in config.aspects:
            item = judge_item(config, judge_spec.name, record["input"]["prompt"], record["output"]["text"], aspect)
            judge_items[item_id(item)] = item
    judgments_path = cache_dir / f"{stem}.judgments.jsonl"
    judge = backends[judge_spec.name]
    if batch is not None:
        judge_summary = run_batch_judge(config, batch, judge, list(judge_items.values()), judgments_path)
    else:
        judge_worker = make_judge_worker(judge, config.templates_dir, config.judge_temperature)
        judge_summary = run_items(list(judge_items.values()), judge_worker, judgments_path, desc="judge", **run)
    require_progress(judge_summary, judgments_path, [judge_spec.endpoint], "judge")
    ratings: dict[tuple[str, str], list[float]] = {}
    for record in read_records(judgments_path):
        if record["id"] not in judge_items:
            continue
        key = (item_id(record["input"]["prompt"]), record["input"]["response"])
        ratings.setdefault(key, [])
        if record["output"]["rating"] is not None:
            ratings[key].append(float(record["output"]["rating"]))

    pairs, skipped = binarize(completions, ratings, config.seed, config.min_margin)
    write_jsonl(pairs, config.output_path)
    stats = {
        "prompts": len(prompts),
        "pairs": len(pairs),
        "prompts_without_pair": skipped,
        "complete": complete_summary,
        "judge": judge_summary,
    }
    logger.info(
        "preferences: %d pairs from %d prompts (%d without a pair) -> %s",
        len(pairs),
        len(prompts),
        skipped,
        config.output_path,
    )
    return stats


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from ._cli import parse_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = parse_config(PreferencesConfig, argv)
    stats = generate_preferences(config)
    print_summary(stats)
    return stats


def print_summary(stats: dict[str, Any]) -> None:
    print(
        f"preferences: {stats['pairs']} pairs from {stats['prompts']} prompts; "
        f"complete: {stats['complete']}; judge: {stats['judge']}",
        flush=True,
    )


if __name__ == "__main__":
    from tulu_recipes.config import run_cli

    run_cli(main)
