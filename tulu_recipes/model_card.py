"""The model card (README.md) saved with every trained model: Hub metadata, what the stage did, its data, the recipe.

Written by hand because neither library writes this card: TRL's `create_model_card` knows the trainer but not the
recipe's mixture, decontamination or verifiers, and PEFT's template is a form of "[More Information Needed]"
fields. The card replaces both. Its recipe section is the same YAML text as `recipe.yaml`
(`tulu_recipes.config.recipe_yaml`), so the two always agree; neither holds a secret (`tulu_recipes.secrets`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tulu_recipes.config import recipe_yaml, resolved_recipe
from tulu_recipes.secrets import scrub_text

CARD = "README.md"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

STAGES = {
    "sft": ("Supervised fine-tuning", "text-generation", ["sft"]),
    "dpo": ("Length-normalized DPO", "text-generation", ["dpo"]),
    "reward_model": ("Reward model training", "text-classification", ["reward-model"]),
    "rlvr": ("Reinforcement learning with verifiable rewards (RLVR)", "text-generation", ["rlvr"]),
}


def hub_id(name: Any) -> str | None:
    """`name` when it reads as a Hub repository id (`org/name`) and is not a local path, else None."""
    if not isinstance(name, str) or not _HUB_ID.match(name) or Path(name).exists():
        return None
    return name


def card_metadata(path: str | Path) -> dict[str, Any]:
    """The YAML front matter of a model card (empty when there is none or it does not parse)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return {}
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not match:
        return {}
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _summary(stage: str, recipe: dict[str, Any], data: Any, world_size: int, log_history: list[dict]) -> list[str]:
    base = recipe.get("model_name_or_path")
    title = STAGES.get(stage, ("Training", "", []))[0]
    rows = len(data.train) if data is not None else None
    lines = [
        f"{title} of `{base}` with tulu-recipes, the [Tülu 3](https://arxiv.org/abs/2411.15124) post-training "
        "recipe on [TRL](https://github.com/huggingface/trl)."
    ]
    batch = recipe.get("per_device_train_batch_size", 0) * recipe.get("gradient_accumulation_steps", 1) * world_size
    facts: list[tuple[str, Any]] = [
        ("training rows", rows),
        ("epochs", recipe.get("num_train_epochs")),
        ("max steps", recipe.get("max_steps") if recipe.get("max_steps", -1) > 0 else None),
        ("learning rate", recipe.get("learning_rate")),
        ("scheduler", recipe.get("lr_scheduler_type")),
        ("effective batch (sequences)", batch or None),
        ("max length", recipe.get("max_length")),
        ("seed", recipe.get("seed")),
        ("chat template", recipe.get("chat_template")),
    ]
    if stage == "sft":
        facts.append(("loss reduction", recipe.get("loss_reduction")))
    if stage == "dpo":
        facts += [("loss", recipe.get("loss_type")), ("beta", recipe.get("beta"))]
    if stage == "rlvr":
        facts += [
            ("algorithm", recipe.get("algorithm")),
            ("verifiers", recipe.get("reward_funcs")),
            ("verified reward", recipe.get("reward_value")),
            ("KL beta", recipe.get("beta")),
        ]
    done = [e for e in log_history if "train_loss" in e]
    if done:
        facts += [("steps trained", done[-1].get("step")), ("training loss (run mean)", done[-1]["train_loss"])]
    if recipe.get("use_peft"):
        facts += [
            (
                "LoRA",
                f"r={recipe.get('lora_r')}, alpha={recipe.get('lora_alpha')}, "
                f"modules={recipe.get('lora_target_modules')}",
            )
        ]
    lines += ["", "| setting | value |", "|---|---|"]
    lines += [f"| {name} | {_fmt(value)} |" for name, value in facts if value is not None]
    return lines


def _decontamination(recipe: dict[str, Any], report: Any) -> list[str]:
    lines = ["## Decontamination", ""]
    if report is None:
        against = recipe.get("decontaminate_against")
        if against:
            return [*lines, f"Checked against {', '.join(map(str, against))}: no report was kept."]
        return [
            *lines,
            "Not checked in this run (set `decontaminate_against` in the recipe to check the training "
            "sources against evaluation sets with the paper's 8-gram rule).",
        ]
    contaminated = list(getattr(report, "contaminated_sources", []))
    verdict = f"contaminated: {', '.join(contaminated)}" if contaminated else "no source is contaminated"
    lines += [f"{getattr(report, 'ngram', 8)}-gram overlap against the evaluation sets: **{verdict}**.", ""]
    lines += ["| training source | eval set | overlapping | % of eval set | contaminated |", "|---|---|---:|---:|---|"]
    for c in getattr(report, "cells", []):
        lines.append(
            f"| {c.source} | {c.eval_set} | {c.count}/{c.eval_size} | {100 * c.fraction:.2f}% | "
            f"{'yes' if c.contaminated else 'no'} |"
        )
    return lines


def _evaluation(output_dir: Path, log_history: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    evals = [e for e in log_history if any(k.startswith("eval_") for k in e)]
    if evals:
        last = evals[-1]
        lines += [
            f"Held-out split, at the last evaluation (step {_fmt(last.get('step'))}):",
            "",
            "| metric | value |",
            "|---|---|",
        ]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in last.items() if k.startswith("eval_")]
    results = output_dir / "results.json"
    if results.is_file():
        from tulu_recipes.evaluation.report import markdown_report

        try:
            table = markdown_report(json.loads(results.read_text(encoding="utf-8"))).rstrip()
        except (ValueError, KeyError, TypeError, AttributeError):
            table = "(results.json is present but could not be read.)"
        lines += [*([""] if lines else []), "`results.json` in this folder:", "", table]
    return ["## Evaluation", "", *lines] if lines else []


def _usage(model_id: str, stage: str, lora: bool) -> list[str]:
    """A snippet that loads the model and chats with it (a reward model: scores one conversation)."""
    if stage == "reward_model":
        load = ["from transformers import AutoModelForSequenceClassification, AutoTokenizer", "",
                f'tokenizer = AutoTokenizer.from_pretrained("{model_id}")',
                f'model = AutoModelForSequenceClassification.from_pretrained("{model_id}")']  # fmt: skip
        use = ['chat = [{"role": "user", "content": "What is 7 times 8?"}, {"role": "assistant", "content": "56"}]',
               "ids = tokenizer.apply_chat_template(chat, return_tensors=\"pt\", return_dict=True)",
               "print(model(**ids).logits[0, 0].item())  # the reward"]  # fmt: skip
    else:
        cls = "AutoPeftModelForCausalLM" if lora else "AutoModelForCausalLM"
        module = "peft" if lora else "transformers"
        load = [f"from {module} import {cls}", "from transformers import AutoTokenizer", "",
                f'tokenizer = AutoTokenizer.from_pretrained("{model_id}")',
                f'model = {cls}.from_pretrained("{model_id}")']  # fmt: skip
        use = ['chat = [{"role": "user", "content": "What is 7 times 8?"}]',
               "ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors=\"pt\", "
               "return_dict=True)",
               "out = model.generate(**ids, max_new_tokens=256)",
               'print(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))']  # fmt: skip
    return ["## Usage", "", "```python", *load, *use, "```"]


def model_card(
    output_dir: str | Path,
    stage: str,
    configs: tuple[Any, ...],
    data: Any = None,
    report: Any = None,
    log_history: list[dict[str, Any]] | None = None,
    world_size: int = 1,
) -> str:
    """The card's text: YAML metadata, summary, data mixture, decontamination, evaluation, then the recipe."""
    recipe = resolved_recipe(*configs, folder=output_dir)
    base = recipe.get("model_name_or_path")
    lora = bool(recipe.get("use_peft"))
    _, pipeline_tag, stage_tags = STAGES.get(stage, ("", "text-generation", []))
    if stage == "rlvr" and recipe.get("algorithm"):
        stage_tags = [*stage_tags, str(recipe["algorithm"])]
    meta: dict[str, Any] = {}
    if hub_id(base):
        meta["base_model"] = base
    parent = card_metadata(Path(str(base)) / CARD) if base and not hub_id(base) else {}
    if parent.get("license"):
        meta["license"] = parent["license"]
    datasets = [s["path"] for s in (recipe.get("dataset_mixer") or []) if hub_id(s.get("path"))]
    if not recipe.get("dataset_mixer") and hub_id(recipe.get("dataset_name")):
        datasets = [recipe["dataset_name"]]
    if datasets:
        meta["datasets"] = list(dict.fromkeys(datasets))
    meta["library_name"] = "peft" if lora else "transformers"
    meta["pipeline_tag"] = pipeline_tag
    meta["tags"] = ["tulu-recipes", "tulu3", "trl", *stage_tags, *(["lora"] if lora else [])]

    name = Path(output_dir).resolve().name
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---", "", f"# {name}", ""]
    lines += _summary(stage, recipe, data, world_size, log_history or [])
    if not hub_id(base):
        lines += ["", f"Base model: the local checkpoint `{base}`."]
    lines += ["", *_usage(recipe.get("hub_model_id") or f"path/to/{name}", stage, lora)]
    if data is not None:
        lines += ["", "## Training data", "", data.to_markdown().rstrip()]
    lines += ["", *_decontamination(recipe, report)]
    evaluation = _evaluation(Path(output_dir), log_history or [])
    if evaluation:
        lines += ["", *evaluation]
    lines += [
        "",
        "## Recipe",
        "",
        f"`recipe.yaml` next to this card; run it again with `tulu-recipes {stage.replace('_', '-')} recipe.yaml`:",
        "",
        "```yaml",
        recipe_yaml(*configs, folder=output_dir).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_model_card(output_dir: str | Path, stage: str, configs: tuple[Any, ...], **kw: Any) -> Path:
    path = Path(output_dir) / CARD
    # The recipe section is redacted already; the rest (data paths, metrics) may still quote a secret value.
    path.write_text(scrub_text(model_card(output_dir, stage, configs, **kw)), encoding="utf-8")
    return path


def write_soup_card(output_dir: str | Path, args: Any, weights: list[float]) -> Path:
    """The card of a model soup: its ingredients and weights, the parent card's license, and the recipe."""
    parent = card_metadata(Path(args.models[0]) / CARD) if not hub_id(args.models[0]) else {}
    meta: dict[str, Any] = {}
    if parent.get("license"):
        meta["license"] = parent["license"]
    hub = [m for m in args.models if hub_id(m)]
    if hub:
        meta["base_model"] = list(dict.fromkeys(hub))
    meta.update(library_name="transformers", pipeline_tag="text-generation", tags=["tulu-recipes", "tulu3", "soup"])
    rows = [f"| `{m}` | {w:.4f} |" for m, w in zip(args.models, weights, strict=True)]
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {Path(output_dir).resolve().name}",
        "",
        f"A model soup: the weighted average of {len(args.models)} checkpoints of one architecture, with the first "
        "one's config and tokenizer (`soup.json` lists them).",
        "",
        "| ingredient | weight |",
        "|---|---:|",
        *rows,
        "",
        "## Recipe",
        "",
        "`recipe.yaml` next to this card; run it again with `tulu-recipes soup recipe.yaml`:",
        "",
        "```yaml",
        recipe_yaml(args, folder=output_dir).rstrip(),
        "```",
        "",
    ]
    path = Path(output_dir) / CARD
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
