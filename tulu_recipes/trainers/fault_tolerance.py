"""Exact resume and fault tolerance for every stage, as Trainer callbacks (they work with any TRL trainer).

- A checkpoint counts only once it is complete: after the Trainer has written everything (weights, optimizer,
  scheduler, RNG states, trainer state), `on_save` writes a `COMPLETE` marker with fsync. A kill during a save
  leaves a folder without the marker, and `resolve_resume` skips it, so resume picks the previous checkpoint.
- `resume_from_checkpoint: true` resumes from the latest complete checkpoint in `output_dir` (or starts fresh when
  there is none); a path resumes from that checkpoint and must be complete.
- A non-finite loss or gradient skips the optimizer step: the gradients are dropped before `optimizer.step()`, so
  neither the weights nor the optimizer's moments move. After `max_nonfinite_steps` bad steps in a row the run stops
  with a clear error instead of stepping on NaNs (the HF Trainer only hides them from the logs).
  Under DeepSpeed (ZeRO-2/3, every GPU recipe) the engine steps inside `backward`, so the gradients are gone when
  the Trainer's pre-step hook runs; DeepSpeed itself skips a step whose gradient norm is not finite (its
  `overflow` flag, `skipped_steps`), and the guard counts those skipped steps instead.

The Trainer already restores the data order (seeded sampler, skipped batches) and the RNG states on resume; these
callbacks make sure what it restores from is whole.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

logger = logging.getLogger("tulu_recipes")

COMPLETE_MARKER = "COMPLETE"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class NonFiniteStepError(RuntimeError):
    """Too many optimizer steps in a row had a non-finite loss or gradient."""


def is_complete(checkpoint: str | Path) -> bool:
    return (Path(checkpoint) / COMPLETE_MARKER).is_file()


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete `checkpoint-N` folders of a run, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _CHECKPOINT.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found) if is_complete(p)]


def _set_aside_incomplete(output_dir: Path, after_step: int) -> None:
    """Move incomplete checkpoints out of the way so a resumed run never mixes their files with new ones."""
    for path in output_dir.iterdir():
        m = _CHECKPOINT.match(path.name)
        if m and path.is_dir() and not is_complete(path) and int(m.group(1)) > after_step:
            target = output_dir / f"incomplete-{path.name}"
            if target.exists():
                shutil.rmtree(target)
            path.rename(target)
            logger.warning("Checkpoint %s was never completed (killed during save?); moved to %s", path, target)


def resolve_resume(value: str | bool | None, output_dir: str | Path) -> str | None:
    """The checkpoint to resume from: None (fresh run), the latest complete one (`true`), or a given path."""
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("", "false", "no")):
        return None
    out = Path(output_dir)
    if value is True or str(value).strip().lower() in ("true", "latest", "yes"):
        complete = complete_checkpoints(out)
        if out.is_dir():
            last_step = int(_CHECKPOINT.match(complete[-1].name).group(1)) if complete else -1
            _set_aside_incomplete(out, last_step)
        if not complete:
            logger.warning("resume_from_checkpoint: no complete checkpoint in %s; starting from scratch", out)
            return None
        logger.info("Resuming from %s", complete[-1])
        return str(complete[-1])
    path = Path(str(value))
    if not path.is_dir():
        raise FileNotFoundError(f"resume_from_checkpoint: {path} is not a checkpoint folder")
    if not is_complete(path):
        raise ValueError(f"resume_from_checkpoint: {path} is incomplete (no {COMPLETE_MARKER}); pick an earlier one")
    return str(path)


class CheckpointCompletionCallback(TrainerCallback):
    """Marks a checkpoint complete once the Trainer has finished writing it."""

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if not args.should_save:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            marker = folder / COMPLETE_MARKER
            with open(marker, "w", encoding="utf-8") as fh:
                fh.write(f"step {state.global_step}\n")
                fh.flush()
                os.fsync(fh.fileno())
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def deepspeed_step_skipped(optimizer: Any) -> bool | None:
    """None when `optimizer` is not DeepSpeed's; else whether DeepSpeed skipped its last step (gradient overflow:
    a non-finite gradient norm, under fp32, bf16 and fp16 alike in DeepSpeed 0.19)."""
    from accelerate.utils.deepspeed import DeepSpeedOptimizerWrapper

    if not isinstance(optimizer, DeepSpeedOptimizerWrapper):
        return None
    return bool(optimizer.step_was_skipped)


class NonFiniteGuardCallback(TrainerCallback):
    """Skips optimizer steps whose gradients are not finite; stops after too many in a row."""

    def __init__(self, max_consecutive: int = 5):
        self.max_consecutive = max_consecutive
        self.consecutive = 0
        self.skipped = 0

    def on_pre_optimizer_step(self, args, state, control, model=None, optimizer=None, **kwargs):
        if model is None or deepspeed_step_skipped(optimizer) is not None:
            return  # DeepSpeed has already stepped (or skipped) inside backward: see on_step_end
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        finite = bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()) if grads else True
        if finite:
            self.consecutive = 0
            return
        for p in model.parameters():
            p.grad = None  # torch optimizers skip parameters without a gradient: no update, no moment change
        self._skipped(args, state)

    def on_step_end(self, args, state, control, optimizer=None, **kwargs):
        skipped = deepspeed_step_skipped(optimizer)
        if skipped is None:
            return
        if not skipped:
            self.consecutive = 0
            return
        # on_step_end comes after the Trainer counted the step: report the same step number as the pre-step hook
        self._skipped(args, state, step=state.global_step)

    def _skipped(self, args, state, step: int | None = None) -> None:
        step = state.global_step + 1 if step is None else step
        self.consecutive += 1
        self.skipped += 1
        logger.warning(
            "Step %d: non-finite loss or gradient; optimizer step skipped (%d in a row)", step, self.consecutive
        )
        state.log_history.append({"step": step, "nonfinite_step_skipped": 1, "nonfinite_steps_total": self.skipped})
        if self.max_consecutive > 0 and self.consecutive >= self.max_consecutive:
            raise NonFiniteStepError(
                f"aborting at step {step}: {self.consecutive} optimizer steps in a row had a non-finite loss or "
                f"gradient (lower the learning rate, check the data, or resume from the last complete checkpoint in "
                f"{args.output_dir}); `max_nonfinite_steps` sets the limit"
            )


def fault_tolerance_callbacks(max_nonfinite_steps: int) -> list[TrainerCallback]:
    return [CheckpointCompletionCallback(), NonFiniteGuardCallback(max_nonfinite_steps)]
