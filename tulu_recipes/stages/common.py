"""What every training stage does the same way: tokenizer and template, model loading, data, outputs.

Outputs follow one rule: nothing a user made is lost. `refuse_finished_run` (right after parsing) stops a run
aimed at an `output_dir` that holds a finished model unless the recipe says `overwrite_output_dir` or resumes.
Nothing is written into `output_dir` until the data, template, tokenizer and model have loaded and the trainer
is built (`train_and_save`); a run that fails before its first checkpoint takes back what it wrote. The model
card and `recipe.yaml` are written together from the same resolved recipe.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from trl import ModelConfig

from tulu_recipes.chat_templates import MODEL, ChatTemplate, load_chat_template, model_chat_template
from tulu_recipes.config import RecipeError, save_recipe
from tulu_recipes.data import FilterConfig, MixtureResult, load_mixture
from tulu_recipes.distributed import check_master_weights, gather_weights_on_save, trainable_dtype
from tulu_recipes.model_card import write_model_card
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.secrets import scrub_text, scrub_values
from tulu_recipes.trainers.fault_tolerance import resolve_resume

logger = logging.getLogger("tulu_recipes")
PAD_TOKEN = "<pad>"
# Top-level files of a saved final model (checkpoints live in checkpoint-N/ folders): their presence = finished.
FINISHED_MODEL_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "adapter_model.safetensors",
    "adapter_model.bin",
)
DATA_OUTPUTS = ("mixture.json", "mixture.md", "decontamination.json", "decontamination.md")


def finished_model_file(output_dir: str | Path | None) -> Path | None:
    """The saved final model in `output_dir`, if a finished run is there."""
    if not output_dir:
        return None
    return next((Path(output_dir) / n for n in FINISHED_MODEL_FILES if (Path(output_dir) / n).is_file()), None)


def refuse_finished_run(script_args: TuluScriptArguments, training_args: Any) -> None:
    """Stop before anything loads when `output_dir` holds a finished model the recipe neither overwrites nor resumes."""
    found = finished_model_file(training_args.output_dir)
    if found is None or script_args.overwrite_output_dir or training_args.resume_from_checkpoint:
        return
    raise RecipeError(
        f"output_dir {training_args.output_dir} holds a finished model ({found.name}); not overwriting it. "
        "Choose another `output_dir`, set `overwrite_output_dir: true` to replace it, or "
        "`resume_from_checkpoint: true` to continue it"
    )


def load_tokenizer(model_args: ModelConfig, template: ChatTemplate, training: bool) -> PreTrainedTokenizerBase:
    """The model's tokenizer with the recipe's chat template (the marked training version when training)."""
    if not model_args.model_name_or_path:
        raise RecipeError("the recipe needs `model_name_or_path`")
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_args.model_name_or_path,
            revision=model_args.model_revision,
            trust_remote_code=getattr(model_args, "trust_remote_code", False),
        )
    except OSError as err:  # unreachable Hub, unknown repo, a folder without tokenizer files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RecipeError(f"`model_name_or_path`: cannot load {model_args.model_name_or_path}: {reason}") from None
    tokenizer.chat_template = template.training if training else template.inference
    if tokenizer.pad_token is None:
        # Tülu 3 adds a dedicated <pad> rather than reusing EOS, so padding is never confused with stopping.
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return tokenizer


def load_model(
    model_args: ModelConfig, tokenizer: PreTrainedTokenizerBase, training_args: Any = None, scalar_head: bool = False
) -> PreTrainedModel:
    """The recipe's model: a causal LM, or with `scalar_head` its backbone with a 1-label classifier head (the
    reward model, which the PPO value model starts from). With `training_args` it is the model being trained,
    loaded with fp32 master weights unless DeepSpeed's mixed precision or LoRA keeps them
    (`tulu_recipes.distributed.trainable_dtype`). Embeddings grow to the tokenizer's `<pad>` row."""
    dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
    if training_args is not None:
        dtype = trainable_dtype(model_args.dtype, training_args, peft=bool(model_args.use_peft))
    model_class = AutoModelForSequenceClassification if scalar_head else AutoModelForCausalLM
    model = model_class.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        dtype=dtype,
        attn_implementation=model_args.attn_implementation,
        trust_remote_code=getattr(model_args, "trust_remote_code", False),
        **({"num_labels": 1} if scalar_head else {}),
    )
    embedding = model.get_input_embeddings().weight
    # Under ZeRO-3 the local tensor is an empty partition; ds_shape is the full one.
    if len(tokenizer) > getattr(embedding, "ds_shape", embedding.shape)[0]:
        # The release resized to a multiple of 8 after adding <pad> (128,264 rows for Llama 3.1). A model on the meta
        # device (FSDP's cpu-RAM-efficient loading off the first process) has no values to take the new rows' mean
        # from; it gets the first process's weights when wrapped.
        on_meta = embedding.device.type == "meta"
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=8, mean_resizing=not on_meta)
    # A classifier scores the last non-pad token, so it must know the pad id too.
    model.config.pad_token_id = tokenizer.pad_token_id
    if not scalar_head and model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    if training_args is not None and not model_args.use_peft:
        check_master_weights(model, training_args, "reward model" if scalar_head else "model")
    return model


def load_stage_data(
    script_args: TuluScriptArguments, seed: int, kind: str, output_dir: str | None, report_dir: str | None = None
) -> MixtureResult:
    """Mix the recipe's sources for a stage and apply the paper's filters.

    With `output_dir`, save the per-source table there. A decontamination report is kept on the result
    (`decontamination`); when it stops the run it is saved in `output_dir`, else `report_dir`, if that is a new or
    empty folder, else a fresh temporary one (a finished run's files are never touched).
    """
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
    result.decontamination = None  # type: ignore[attr-defined]
    if script_args.decontaminate_against:
        result.decontamination = check_contamination(result, script_args, output_dir or report_dir)  # type: ignore[attr-defined]
    if output_dir:
        write_data_outputs(output_dir, result)
    return result


def write_data_outputs(output_dir: str | Path, result: MixtureResult) -> list[Path]:
    """Save the mixture table (and the decontamination report, if any) next to the outputs; return the paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mixture.json").write_text(json.dumps(scrub_values(result.to_dict()), indent=2), encoding="utf-8")
    (out / "mixture.md").write_text(scrub_text(result.to_markdown()), encoding="utf-8")
    report = getattr(result, "decontamination", None)
    if report is not None:
        report.write(out)
    return [out / name for name in DATA_OUTPUTS if (out / name).is_file()]


def _report_dir(output_dir: str | None) -> str | None:
    """Where a refusing decontamination report may go: `output_dir` if new or empty, else a temporary folder."""
    if not output_dir:
        return None
    out = Path(output_dir)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return output_dir
    return tempfile.mkdtemp(prefix="tulu-decontamination-")


def mixture_seed(training_args: Any) -> int:
    """The seed that mixes the data: `data_seed` when the recipe sets it (0 included), else `seed`."""
    return training_args.seed if training_args.data_seed is None else training_args.data_seed


def trainer_datasets(data: MixtureResult, columns: list[str]) -> dict[str, Any]:
    """`train_dataset`/`eval_dataset` keyword arguments holding only the columns a trainer reads."""
    return {
        "train_dataset": data.train.select_columns(columns),
        "eval_dataset": data.test.select_columns(columns) if data.test is not None else None,
    }


def check_contamination(result: MixtureResult, script_args: TuluScriptArguments, output_dir: str | None) -> Any:
    """Stop before training when a source overlaps a declared evaluation set (paper §3.2: 8-grams, 50%, 2%).

    Returns the report; when it stops the run, saves it first (see `load_stage_data` for where).
    """
    from tulu_recipes.data.decontamination import build_index, load_eval_sets, scan_dataset

    index = build_index(load_eval_sets(list(script_args.decontaminate_against)))
    report = scan_dataset(result.train, index, source_column="source")
    logger.info("Decontamination:\n%s", report.to_markdown())
    contaminated = report.contaminated_sources
    if contaminated and not script_args.allow_contaminated:
        where = _report_dir(output_dir)
        if where:
            report.write(where)
        raise RecipeError(
            "contaminated training sources: "
            + ", ".join(contaminated)
            + f" (report: {where or 'not saved'}/decontamination.md; set `allow_contaminated: true` to train "
            "anyway, or drop them with `tulu-recipes decontaminate`)"
        )
    return report


def finish_outputs(
    output_dir: str,
    tokenizer: PreTrainedTokenizerBase,
    template: ChatTemplate,
    *configs: Any,
    stage: str = "training",
    data: MixtureResult | None = None,
    log_history: list[dict[str, Any]] | None = None,
    world_size: int = 1,
) -> None:
    """Save the inference template into the tokenizer, and the resolved recipe next to the model and in its card.

    The card replaces whatever TRL or PEFT wrote (PEFT's template, TRL's checkpoint card).
    """
    tokenizer.chat_template = template.inference
    tokenizer.save_pretrained(output_dir)
    save_recipe(output_dir, *configs)
    write_model_card(
        output_dir,
        stage,
        configs,
        data=data,
        report=getattr(data, "decontamination", None),
        log_history=log_history,
        world_size=world_size,
    )


def start_outputs(output_dir: str, data: MixtureResult | None, *configs: Any) -> list[Path]:
    """The run is known to start: write the resolved recipe and the data tables; return the paths written.

    A card already in `output_dir` (a finished run being overwritten or resumed, a crashed run's checkpoint card)
    describes other weights or another recipe, so it goes; the new card comes with the final model.
    """
    out = Path(output_dir)
    (out / "README.md").unlink(missing_ok=True)
    written = [save_recipe(out, *configs)]
    if data is not None:
        written += write_data_outputs(out, data)
    return written


def discard_unstarted_outputs(output_dir: str, written: list[Path], existed: bool) -> None:
    """A run failed before its first checkpoint: take back what it wrote, and its folder if it made it."""
    out = Path(output_dir)
    if any(out.glob("checkpoint-*")):
        return  # resumable work: keep the recipe that made it
    for path in written:
        path.unlink(missing_ok=True)
    if not existed and out.is_dir() and not any(out.iterdir()):
        shutil.rmtree(out, ignore_errors=True)


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


def train_and_save(
    trainer: Any,
    tokenizer: PreTrainedTokenizerBase,
    template: ChatTemplate,
    *configs: Any,
    stage: str = "training",
    data: MixtureResult | None = None,
) -> Any:
    """Train (resuming as the recipe says), then save the model, the inference template, the recipe and the card.

    Called once data, template, tokenizer and model have loaded: only now does anything go into `output_dir`.
    """
    args = trainer.args
    main = trainer.is_world_process_zero()
    existed = Path(args.output_dir).exists()
    written = start_outputs(args.output_dir, data, *configs) if main else []
    try:
        trainer.train(resume_from_checkpoint=resolve_resume(args.resume_from_checkpoint, args.output_dir))
    except BaseException:
        if main:
            discard_unstarted_outputs(args.output_dir, written, existed)
        raise
    gather_weights_on_save(getattr(trainer, "deepspeed", None))
    trainer.save_model(args.output_dir)
    if main:
        finish_outputs(
            args.output_dir,
            tokenizer,
            template,
            *configs,
            stage=stage,
            data=data,
            log_history=trainer.state.log_history,
            world_size=args.world_size,
        )
    return trainer
