"""What a training stage writes, and the rule it follows: nothing a user made is lost.

`refuse_finished_run` (right after parsing) stops a run aimed at an `output_dir` that holds a finished model unless
the recipe says `overwrite_output_dir` or resumes. Nothing is written into `output_dir` until the data, template,
tokenizer and model have loaded and the trainer is built (`train_and_save`); a run that fails before its first
checkpoint takes back what it wrote. The model card and `recipe.yaml` are written together from the same resolved
recipe.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from transformers import (
    PreTrainedTokenizerBase,
)

from tulu_recipes.chat_templates import ChatTemplate
from tulu_recipes.config import RecipeError, save_recipe
from tulu_recipes.data import MixtureResult
from tulu_recipes.distributed import gather_weights_on_save
from tulu_recipes.model_card import write_model_card
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.mixture import write_data_outputs
from tulu_recipes.trainers.fault_tolerance import resolve_resume

logger = logging.getLogger("tulu_recipes")

# Top-level files of a saved final model (checkpoints live in checkpoint-N/ folders): their presence = finished.
FINISHED_MODEL_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "adapter_model.safetensors",
    "adapter_model.bin",
)


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
