"""What every training stage does the same way: tokenizer and template, model loading, data, outputs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from trl import ModelConfig

from tulu_recipes.chat_templates import MODEL, ChatTemplate, load_chat_template, model_chat_template
from tulu_recipes.config import RecipeError, recipe_markdown, save_recipe
from tulu_recipes.data import FilterConfig, MixtureResult, load_mixture
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.trainers.fault_tolerance import resolve_resume

logger = logging.getLogger("tulu_recipes")
PAD_TOKEN = "<pad>"


def load_tokenizer(model_args: ModelConfig, template: ChatTemplate, training: bool) -> PreTrainedTokenizerBase:
    """The model's tokenizer with the recipe's chat template (the marked training version when training)."""
    if not model_args.model_name_or_path:
        raise RecipeError("the recipe needs `model_name_or_path`")
    tokenizer = AutoTokenizer.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        trust_remote_code=getattr(model_args, "trust_remote_code", False),
    )
    tokenizer.chat_template = template.training if training else template.inference
    if tokenizer.pad_token is None:
        # Tülu 3 adds a dedicated <pad> rather than reusing EOS, so padding is never confused with stopping.
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return tokenizer


def load_causal_lm(model_args: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
    model = AutoModelForCausalLM.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        dtype=dtype,
        attn_implementation=model_args.attn_implementation,
        trust_remote_code=getattr(model_args, "trust_remote_code", False),
    )
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        # The release resized to a multiple of 8 after adding <pad> (128,264 rows for Llama 3.1).
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=8)
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def load_stage_data(script_args: TuluScriptArguments, seed: int, kind: str, output_dir: str | None) -> MixtureResult:
    """Mix the recipe's sources for a stage, apply the paper's filters, save the per-source table."""
    sources = script_args.mixture_sources()
    if not sources:
        raise RecipeError("the recipe names no data: set `dataset_mixer` (or `dataset_name`)")
    filters = FilterConfig(
        drop_empty_turns=script_args.drop_empty_turns,
        drop_identity=script_args.drop_identity_mentions,
        **({"identity_keywords": list(script_args.identity_keywords)} if script_args.identity_keywords else {}),
    )
    result = load_mixture(sources, kind=kind, seed=seed, filters=filters, test_size=script_args.test_size)
    logger.info("Data mixture:\n%s", result.to_markdown())
    if script_args.decontaminate_against:
        check_contamination(result, script_args, output_dir)
    if output_dir:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "mixture.json").write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        (out / "mixture.md").write_text(result.to_markdown(), encoding="utf-8")
    return result


def mixture_seed(training_args: Any) -> int:
    """The seed that mixes the data: `data_seed` when the recipe sets it (0 included), else `seed`."""
    return training_args.seed if training_args.data_seed is None else training_args.data_seed


def trainer_datasets(data: MixtureResult, columns: list[str]) -> dict[str, Any]:
    """`train_dataset`/`eval_dataset` keyword arguments holding only the columns a trainer reads."""
    return {
        "train_dataset": data.train.select_columns(columns),
        "eval_dataset": data.test.select_columns(columns) if data.test is not None else None,
    }


def check_contamination(result: MixtureResult, script_args: TuluScriptArguments, output_dir: str | None) -> None:
    """Stop before training when a source overlaps a declared evaluation set (paper §3.2: 8-grams, 50%, 2%)."""
    from tulu_recipes.data.decontaminate import build_index, load_eval_sets, scan_dataset

    index = build_index(load_eval_sets(list(script_args.decontaminate_against)))
    report = scan_dataset(result.train, index, source_column="source")
    if output_dir:
        report.write(output_dir)
    logger.info("Decontamination:\n%s", report.to_markdown())
    contaminated = report.contaminated_sources
    if contaminated and not script_args.allow_contaminated:
        raise RecipeError(
            "contaminated training sources: "
            + ", ".join(contaminated)
            + f" (report: {output_dir or 'not saved'}/decontamination.md; set `allow_contaminated: true` to train "
            "anyway, or drop them with `tulu-recipes decontaminate`)"
        )


def finish_outputs(output_dir: str, tokenizer: PreTrainedTokenizerBase, template: ChatTemplate, *configs: Any) -> None:
    """Save the inference template into the tokenizer, and the resolved recipe next to the model and in its card."""
    tokenizer.chat_template = template.inference
    tokenizer.save_pretrained(output_dir)
    save_recipe(output_dir, *configs)
    card = Path(output_dir) / "README.md"
    text = card.read_text(encoding="utf-8") if card.exists() else "# Model trained with tulu-recipes\n"
    if "## Recipe" not in text:
        card.write_text(text.rstrip() + "\n\n" + recipe_markdown(*configs), encoding="utf-8")


def template_for(script_args: TuluScriptArguments, model_args: ModelConfig | None = None) -> ChatTemplate:
    """The recipe's chat template; `chat_template: model` reads the one saved with `model_name_or_path`."""
    try:
        if script_args.chat_template == MODEL:
            if model_args is None or not model_args.model_name_or_path:
                raise ValueError("`chat_template: model` needs `model_name_or_path`")
            source = model_args.model_name_or_path
            tokenizer = AutoTokenizer.from_pretrained(
                source,
                revision=model_args.model_revision,
                trust_remote_code=getattr(model_args, "trust_remote_code", False),
            )
            return model_chat_template(tokenizer, source)
        return load_chat_template(script_args.chat_template)
    except ValueError as err:
        raise RecipeError(str(err)) from None


def train_and_save(trainer: Any, tokenizer: PreTrainedTokenizerBase, template: ChatTemplate, *configs: Any) -> Any:
    """Train (resuming as the recipe says), then save the model, the inference template and the resolved recipe."""
    args = trainer.args
    trainer.train(resume_from_checkpoint=resolve_resume(args.resume_from_checkpoint, args.output_dir))
    trainer.save_model(args.output_dir)
    finish_outputs(args.output_dir, tokenizer, template, *configs)
    return trainer
