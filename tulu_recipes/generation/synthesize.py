"""Persona-driven prompt and response synthesis (paper §3.1.2: Persona IF, MATH, GSM, Python).

Rule, per (persona, skill, sample): the prompt model writes a request from the skill template
``templates/persona_<skill>.txt`` filled with ``$persona`` (and ``$constraint`` for ``if``); the response
model answers it. For skill ``if`` one IFEval constraint is drawn (seeded) from the catalog, its instruction
is appended to the request, and the row gets ``ground_truth`` (open-instruct JSON) and ``dataset: "ifeval"``;
with ``verified_only`` rows whose response fails ``rewards.ifeval.verify`` are dropped.
Raw results go to a resumable cache (see executor); the final ``messages`` JSONL is rebuilt from it.
"""

from __future__ import annotations

import csv
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import MalformedOutputError, ModelSpec, make_backend
from .constraints import bind_prompt, load_catalog, sample_constraint
from .executor import item_id, run_cached
from .identity import identity_conversations
from .prompts import load_template, render

logger = logging.getLogger(__name__)

IF_SKILL = "if"


@dataclass
class SynthesizeConfig:
    """Recipe for ``recipes/synthesize.py``."""

    output_path: str = field(metadata={"help": "Final messages-format JSONL."})
    personas: str | None = field(
        default=None, metadata={"help": "Persona file (.jsonl/.json/.csv/.txt) or a datasets name."}
    )
    persona_column: str = field(default="persona", metadata={"help": "Column holding the persona text."})
    persona_split: str = field(default="train", metadata={"help": "Split, when personas is a dataset name."})
    max_personas: int | None = field(default=None, metadata={"help": "Use only the first N personas."})
    skills: list[str] = field(
        default_factory=lambda: [IF_SKILL],
        metadata={"help": "Skills; each needs templates/persona_<skill>.txt."},
    )
    samples_per_persona: int = field(default=1, metadata={"help": "Prompts per (persona, skill)."})
    prompt_model: dict | None = field(default=None, metadata={"help": "Model spec that writes the prompts."})
    response_model: dict | None = field(
        default=None, metadata={"help": "Model spec that answers them (default: prompt_model)."}
    )
    templates_dir: str | None = field(
        default=None, metadata={"help": "Directory whose template files override the packaged ones."}
    )
    constraints: list[str] | None = field(
        default=None, metadata={"help": "Restrict skill 'if' to these func_names (default: all 25)."}
    )
    verified_only: bool = field(default=True, metadata={"help": "Drop 'if' rows whose response fails the check."})
    cache_path: str | None = field(
        default=None, metadata={"help": "Resumable raw results (default: <output_path>.cache.jsonl)."}
    )
    max_concurrency: int = field(default=8, metadata={"help": "Requests in flight."})
    max_retries: int = field(default=5, metadata={"help": "Retries per item on transient errors."})
    retry_base_delay: float = field(default=1.0, metadata={"help": "First backoff delay (s)."})
    retry_max_delay: float = field(default=60.0, metadata={"help": "Longest backoff delay (s)."})
    seed: int = field(default=42, metadata={"help": "Seed of constraint sampling, sampling seeds and jitter."})
    progress: bool = field(default=True, metadata={"help": "Show a progress bar."})
    identity_model_name: str | None = field(
        default=None, metadata={"help": "If set, also write the hard-coded identity conversations."}
    )
    identity_developer: str | None = field(default=None, metadata={"help": "Developer named in them."})
    identity_repeat: int = field(default=10, metadata={"help": "Copies of each identity conversation."})
    identity_output_path: str | None = field(default=None, metadata={"help": "Where to write them."})


def load_personas(source: str, column: str = "persona", split: str = "train", limit: int | None = None) -> list[str]:
    """Persona texts from a local file or a ``datasets`` dataset; blanks and duplicates dropped."""
    path = Path(source)
    if path.exists():
        if path.suffix == ".txt":
            texts = path.read_text(encoding="utf-8").splitlines()
        elif path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as f:
                texts = [row[column] for row in csv.DictReader(f)]
        elif path.suffix == ".json":
            texts = [row[column] for row in json.loads(path.read_text(encoding="utf-8"))]
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
            texts = [json.loads(line)[column] for line in lines if line.strip()]
    else:
        import datasets

        texts = datasets.load_dataset(source, split=split)[column]
    unique = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
    return unique[:limit] if limit is not None else unique


def build_items(config: SynthesizeConfig, personas: list[str]) -> list[dict[str, Any]]:
    """One item per (persona, skill, sample). Items hold every input that shapes the result, so editing a
    template, a model or the seed gives new ids (and new generations) instead of stale cache hits."""
    prompt_spec = ModelSpec.from_dict(require_field(config.prompt_model, "prompt_model"))
    response_spec = ModelSpec.from_dict(config.response_model or config.prompt_model)
    catalog = load_catalog(template_dir_file(config.templates_dir, "ifeval_constraints.json"))
    if config.constraints:
        catalog = [c for c in catalog if c["func_name"] in set(config.constraints)]
        if not catalog:
            raise ValueError(f"no catalog constraint matches {config.constraints}")
    items = []
    for skill in config.skills:
        template = load_template(f"persona_{skill}.txt", config.templates_dir)
        for persona in personas:
            for sample in range(config.samples_per_persona):
                item: dict[str, Any] = {
                    "skill": skill,
                    "persona": persona,
                    "sample": sample,
                    "template": template,
                    "prompt_model": prompt_spec.name,
                    "response_model": response_spec.name,
                    "seed": config.seed,
                }
                if skill == IF_SKILL:
                    rng = random.Random(f"{config.seed}:{persona}:{sample}")
                    item["ground_truth"], item["constraint"] = sample_constraint(rng, catalog)
                items.append(item)
    return items


def template_dir_file(templates_dir: str | None, name: str) -> Path | None:
    if templates_dir is not None and (Path(templates_dir) / name).exists():
        return Path(templates_dir) / name
    return None


def require_field(value: Any, name: str) -> Any:
    """``value``, or a ValueError naming the config field ``name`` when it is unset."""
    if value is None:
        raise ValueError(f"{name} is required")
    return value


def strip_quotes(text: str) -> str:
    """``text`` stripped, without one pair of matching outer quotes (models often quote what they write)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def make_worker(prompt_backend: Any, response_backend: Any) -> Callable[[dict], Awaitable[dict]]:
    """The per-item function: write the prompt, answer it, attach the ground truth."""

    async def work(item: dict[str, Any]) -> dict[str, Any]:
        seed = int(item_id(item)[:8], 16)
        values = {"persona": item["persona"], "constraint": item.get("constraint", "")}
        ask = [{"role": "user", "content": render(item["template"], **values)}]
        asked = await prompt_backend.agenerate(ask, seed=seed)
        prompt = strip_quotes(asked.text)
        if not prompt:
            raise MalformedOutputError("the prompt model returned an empty request")
        user_turn = f"{prompt}\n\n{item['constraint']}" if item.get("constraint") else prompt
        answer = await response_backend.agenerate([{"role": "user", "content": user_turn}], seed=seed)
        if not answer.text.strip():
            raise MalformedOutputError("the response model returned an empty answer")
        ground_truth = None
        if item.get("ground_truth") is not None:
            ground_truth = json.dumps(bind_prompt(item["ground_truth"], prompt), ensure_ascii=False)
        return {
            "prompt": user_turn,
            "response": answer.text,
            "ground_truth": ground_truth,
            "usage": {
                "prompt_tokens": asked.prompt_tokens + answer.prompt_tokens,
                "completion_tokens": asked.completion_tokens + answer.completion_tokens,
            },
        }

    return work


def _load_verifier() -> Callable[[str, Any], bool]:
    try:
        from rewards.ifeval import verify
    except ImportError as err:
        raise RuntimeError("verified_only needs rewards.ifeval.verify, which is not importable") from err
    return verify


def to_rows(
    records: list[dict[str, Any]], verified_only: bool, verify: Callable[[str, Any], bool] | None = None
) -> list[dict[str, Any]]:
    """Turn cache records into rows (``messages`` + ``ground_truth``/``dataset``), checking IF rows."""
    rows = []
    for record in records:
        item, out = record["input"], record["output"]
        verified = None
        if out.get("ground_truth") is not None:
            verify = verify or _load_verifier()
            try:
                verified = bool(verify(out["response"], out["ground_truth"]))
            except Exception as err:  # noqa: BLE001 - a verifier crash means "not verified"
                logger.warning("verifier failed on %s: %r", record["id"], err)
                verified = False
            if verified_only and not verified:
                continue
        rows.append(
            {
                "id": record["id"],
                "messages": [
                    {"role": "user", "content": out["prompt"]},
                    {"role": "assistant", "content": out["response"]},
                ],
                "ground_truth": out.get("ground_truth"),
                "dataset": "ifeval" if out.get("ground_truth") is not None else None,
                "skill": item["skill"],
                "persona": item["persona"],
                "model": item["response_model"],
                "verified": verified,
            }
        )
    return rows


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def synthesize(
    config: SynthesizeConfig,
    backends: dict[str, Any] | None = None,
    verify: Callable[[str, Any], bool] | None = None,
) -> dict[str, Any]:
    """Run the whole synthesis. ``backends`` (name -> backend) and ``verify`` (default
    ``rewards.ifeval.verify``) may be injected, e.g. in tests."""
    stats: dict[str, Any] = {}
    if config.identity_model_name:
        identity = identity_conversations(
            config.identity_model_name,
            require_field(config.identity_developer, "identity_developer"),
            repeat=config.identity_repeat,
        )
        write_jsonl(identity, require_field(config.identity_output_path, "identity_output_path"))
        stats["identity_rows"] = len(identity)
    if config.personas is None:
        return stats
    personas = load_personas(config.personas, config.persona_column, config.persona_split, config.max_personas)
    items = build_items(config, personas)
    backends = dict(backends or {})
    prompt_spec = ModelSpec.from_dict(require_field(config.prompt_model, "prompt_model"))
    response_spec = ModelSpec.from_dict(config.response_model or config.prompt_model)
    for spec in (prompt_spec, response_spec):
        if spec.name not in backends:
            backends[spec.name] = make_backend(spec)
    worker = make_worker(backends[prompt_spec.name], backends[response_spec.name])
    endpoints = [prompt_spec.endpoint, response_spec.endpoint]
    summary, records = run_cached(items, worker, config, "synthesize", endpoints)
    rows = to_rows(records, config.verified_only, verify)
    write_jsonl(rows, config.output_path)
    stats.update(summary=summary, rows=len(rows), records=len(records))
    logger.info("synthesize: %s; %d rows written to %s", summary, len(rows), config.output_path)
    return stats


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from ._cli import parse_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = parse_config(SynthesizeConfig, argv)
    stats = synthesize(config)
    print_summary(stats, config)
    return stats


def print_summary(stats: dict[str, Any], config: SynthesizeConfig) -> None:
    if "summary" in stats:
        print(f"synthesize: {stats['summary']}; {stats['rows']} rows -> {config.output_path}", flush=True)
    if "identity_rows" in stats:
        print(f"identity: {stats['identity_rows']} rows -> {config.identity_output_path}", flush=True)


if __name__ == "__main__":
    from tulu_recipes.config import run_cli

    run_cli(main)
