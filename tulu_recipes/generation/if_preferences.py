"""Persona-IF preference pairs: the answer to a prompt with one constraint relaxed is the rejected one.

Tülu 3 paper §4 (recipe doc §4.6; release `scripts/persona_driven_data_gen`, template `rewrite_if_prompt`): an LLM
rewrites an instruction-following prompt so that one of its constraints is dropped, the response model answers
the original and the rewritten prompt, and the answer to the rewrite becomes "rejected" next to the answer to the
original ("chosen"), both under the original prompt.

Rule, per prompt row (``messages`` ending in a user turn, ``ground_truth`` in the open-instruct format: one
``{"func_name", <kwargs>}`` constraint or a list of them):
1. one constraint is picked (seeded per prompt) and described with the catalog's instruction text;
2. the rewrite model gets ``templates/if_relax_constraint.txt`` and returns the relaxed request (a leading
   ``User instruction:`` is cut off);
3. the response model answers the original conversation and the one whose last user turn is the relaxed request;
4. a pair is kept only when ``rewards.ifeval`` finds that the chosen answer follows every constraint and the
   rejected answer breaks the relaxed one; the others are counted and dropped.
Steps 1-3 run through the resumable executor (cache ``<output>.cache.jsonl``); step 4 is rebuilt from the cache on
every run, so changing the check needs no new calls. Output rows are ``chosen``/``rejected`` message lists, read
directly by the DPO stage, plus the relaxed prompt and the constraint.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import MalformedOutputError, ModelSpec, make_backend
from .constraints import describe, load_catalog
from .executor import item_id, run_cached
from .prompts import load_template, render
from .synthesize import require_field, strip_quotes, template_dir_file, write_jsonl

logger = logging.getLogger(__name__)

Messages = list[dict[str, str]]
PREFIX = "user instruction:"


@dataclass
class IFPreferencesConfig:
    """Recipe for ``recipes/if_preferences.py``."""

    prompts: str = field(metadata={"help": "JSONL of IF rows: `messages` (ending in a user turn) + `ground_truth`."})
    output_path: str = field(metadata={"help": "Preference dataset JSONL."})
    rewrite_model: dict | None = field(default=None, metadata={"help": "Model spec that relaxes the prompt."})
    response_model: dict | None = field(
        default=None, metadata={"help": "Model spec answering both prompts (default: rewrite_model)."}
    )
    max_prompts: int | None = field(default=None, metadata={"help": "Use only the first N rows."})
    templates_dir: str | None = field(default=None, metadata={"help": "Overrides for if_relax_constraint.txt."})
    cache_path: str | None = field(default=None, metadata={"help": "Call cache (default: <output>.cache.jsonl)."})
    max_concurrency: int = field(default=8, metadata={"help": "Requests in flight."})
    max_retries: int = field(default=5, metadata={"help": "Retries per item on transient errors."})
    retry_base_delay: float = field(default=1.0, metadata={"help": "First backoff delay (s)."})
    retry_max_delay: float = field(default=60.0, metadata={"help": "Longest backoff delay (s)."})
    seed: int = field(default=42, metadata={"help": "Seed of the constraint pick and the jitter."})
    progress: bool = field(default=True, metadata={"help": "Show progress bars."})


def constraints_of(ground_truth: Any) -> list[dict[str, Any]]:
    """The ``{"func_name", ...}`` constraints of an open-instruct ground truth (JSON text, dict or list)."""
    value = json.loads(ground_truth) if isinstance(ground_truth, str) else ground_truth
    value = value if isinstance(value, list) else [value]
    if not value or not all(isinstance(c, dict) and "func_name" in c for c in value):
        raise ValueError(f"ground_truth is not a func_name constraint or a list of them: {ground_truth!r:.120}")
    return value


def load_rows(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Prompt rows with a constraint; rows without ``ground_truth`` are skipped, a bad one is an error."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("ground_truth") in (None, ""):
            continue
        messages = [{"role": m["role"], "content": m["content"]} for m in row.get("messages") or []]
        while messages and messages[-1]["role"] == "assistant":
            messages.pop()  # an SFT row: keep the prompt
        if not messages or messages[-1]["role"] != "user":
            raise ValueError(f"{path} line {number}: `messages` has no user turn to answer")
        try:
            constraints = constraints_of(row["ground_truth"])
        except (ValueError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} line {number}: {err}") from err
        rows.append({"prompt": messages, "constraints": constraints})
    return rows[:limit] if limit is not None else rows


def build_items(config: IFPreferencesConfig, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One item per row, holding every input that shapes its calls (so edits give new ids, not stale hits)."""
    rewrite = ModelSpec.from_dict(require_field(config.rewrite_model, "rewrite_model"))
    response = ModelSpec.from_dict(config.response_model or config.rewrite_model)
    template = load_template("if_relax_constraint.txt", config.templates_dir)
    catalog = load_catalog(template_dir_file(config.templates_dir, "ifeval_constraints.json"))
    items = []
    for row in rows:
        rng = random.Random(f"{config.seed}:{item_id(row)}")
        relaxed = rng.randrange(len(row["constraints"]))
        items.append(
            {
                "stage": "if_relax",
                "prompt": row["prompt"],
                "constraints": row["constraints"],
                "relaxed": relaxed,
                "constraint": describe(row["constraints"][relaxed], catalog),
                "template": template,
                "rewrite_model": rewrite.name,
                "response_model": response.name,
                "seed": config.seed,
            }
        )
    return items


def clean_rewrite(text: str) -> str:
    """The relaxed request: the text after a leading ``User instruction:``, unquoted."""
    text = text.strip()
    if text.lower().startswith(PREFIX):
        text = text[len(PREFIX) :].strip()
    return strip_quotes(text)


def make_worker(rewrite_backend: Any, response_backend: Any) -> Callable[[dict], Awaitable[dict]]:
    """Rewrite the last user turn, then answer the original and the relaxed conversation."""

    async def work(item: dict[str, Any]) -> dict[str, Any]:
        seed = int(item_id(item)[:8], 16)
        prompt = item["prompt"]
        ask = render(item["template"], instruction=prompt[-1]["content"], constraint=item["constraint"])
        rewrite = await rewrite_backend.agenerate([{"role": "user", "content": ask}], seed=seed)
        relaxed = clean_rewrite(rewrite.text)
        if not relaxed:
            raise MalformedOutputError("the rewrite model returned an empty request")
        chosen = await response_backend.agenerate(prompt, seed=seed)
        rejected = await response_backend.agenerate([*prompt[:-1], {"role": "user", "content": relaxed}], seed=seed)
        if not chosen.text.strip() or not rejected.text.strip():
            raise MalformedOutputError("the response model returned an empty answer")
        calls = (rewrite, chosen, rejected)
        return {
            "relaxed_prompt": relaxed,
            "chosen": chosen.text,
            "rejected": rejected.text,
            "usage": {
                "prompt_tokens": sum(c.prompt_tokens for c in calls),
                "completion_tokens": sum(c.completion_tokens for c in calls),
            },
        }

    return work


def _checked(verify: Callable[[str, Any], bool], text: str, constraint: dict[str, Any]) -> bool:
    try:
        return bool(verify(text, json.dumps(constraint)))
    except Exception:  # noqa: BLE001 - a verifier crash means "not verified"
        return False


def to_pairs(
    records: list[dict[str, Any]], verify: Callable[[str, Any], bool]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Pairs whose chosen follows every constraint and whose rejected breaks the relaxed one; drop counts."""
    pairs, dropped = [], {"chosen_breaks": 0, "rejected_follows": 0}
    for record in records:
        item, out = record["input"], record["output"]
        if not all(_checked(verify, out["chosen"], c) for c in item["constraints"]):
            dropped["chosen_breaks"] += 1
            continue
        if _checked(verify, out["rejected"], item["constraints"][item["relaxed"]]):
            dropped["rejected_follows"] += 1
            continue
        prompt = [dict(m) for m in item["prompt"]]
        pairs.append(
            {
                "id": record["id"],
                "chosen": prompt + [{"role": "assistant", "content": out["chosen"]}],
                "rejected": [dict(m) for m in prompt] + [{"role": "assistant", "content": out["rejected"]}],
                "relaxed_prompt": out["relaxed_prompt"],
                "relaxed_constraint": item["constraints"][item["relaxed"]],
                "ground_truth": json.dumps(item["constraints"], ensure_ascii=False),
                "chosen_model": item["response_model"],
                "rejected_model": item["response_model"],
                "source": "persona_if",
            }
        )
    return pairs, dropped


def generate_if_preferences(
    config: IFPreferencesConfig,
    backends: dict[str, Any] | None = None,
    verify: Callable[[str, Any], bool] | None = None,
) -> dict[str, Any]:
    """Run the pipeline; ``backends`` (name -> backend) and ``verify`` may be injected, e.g. in tests."""
    if verify is None:
        from rewards.ifeval import verify
    rows = load_rows(config.prompts, config.max_prompts)
    items = build_items(config, rows)
    backends = dict(backends or {})
    rewrite_spec = ModelSpec.from_dict(require_field(config.rewrite_model, "rewrite_model"))
    response_spec = ModelSpec.from_dict(config.response_model or config.rewrite_model)
    for spec in (rewrite_spec, response_spec):
        if spec.name not in backends:
            backends[spec.name] = make_backend(spec)
    worker = make_worker(backends[rewrite_spec.name], backends[response_spec.name])
    endpoints = [rewrite_spec.endpoint, response_spec.endpoint]
    summary, records = run_cached(items, worker, config, "if-preferences", endpoints)
    pairs, dropped = to_pairs(records, verify)
    write_jsonl(pairs, config.output_path)
    stats = {"prompts": len(rows), "records": len(records), "pairs": len(pairs), "dropped": dropped, "summary": summary}
    logger.info("if-preferences: %s; %d pairs (dropped %s) -> %s", summary, len(pairs), dropped, config.output_path)
    return stats


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from ._cli import parse_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = parse_config(IFPreferencesConfig, argv)
    stats = generate_if_preferences(config)
    print_summary(stats)
    return stats


def print_summary(stats: dict[str, Any]) -> None:
    print(f"if-preferences: {stats['summary']}; {stats['pairs']} pairs, dropped {stats['dropped']}", flush=True)


if __name__ == "__main__":
    from tulu_recipes.config import run_cli

    run_cli(main)
