"""Value pretraining (VC-PPO arXiv 2503.01491, VAPO arXiv 2504.05118) for `TuluPPOTrainer`.

Before the first policy update, the frozen starting policy generates rollout batches from the training prompts
and the value model is fitted on their Monte-Carlo returns (GAE with λ = 1: the discounted reward-to-go, KL
penalty included), with its own AdamW and an unclipped squared error. Each fresh batch is first scored: the
explained variance of its returns by the current value model (measured before fitting it, so it is the value
model's accuracy on rollouts it has not seen). Pretraining ends when that passes `value_pretrain_threshold`, or
after `value_pretrain_max_rollouts` batches; then the run continues or stops as `value_pretrain_on_miss` says.

The rollouts go through the trainer's own `_generate_and_score_completions` (same generation, verifiers, no-EOS
penalty, KL reward and score position as PPO), with the value targets forced to λ = 1 and the trainer's metrics
and completion logs set aside, so the first PPO log holds PPO alone. Each pretraining rollout and a summary are
logged at step 0 (`value_pretrain/*`: the Trainer's log history and console) and kept in
`trainer.value_pretraining_history`; a miss is also a warning. TRL's `num_tokens` counts the pretraining
rollouts' tokens too. Skipped when a run resumes from a checkpoint (its value model is already trained).

Written here because TRL has no value model and no pretraining phase. Single device or DDP (gradients averaged
over processes); DeepSpeed's value engine is not driven here, so the config refuses that combination.
"""

from __future__ import annotations

import copy
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from transformers import Trainer, TrainerCallback

from tulu_recipes.config import RecipeError
from tulu_recipes.trainers import ppo_math

if TYPE_CHECKING:
    from tulu_recipes.trainers.ppo import TuluPPOTrainer

logger = logging.getLogger(__name__)


class ValuePretrainingMiss(RecipeError):
    """Value pretraining ended below its threshold and `value_pretrain_on_miss` is `stop` (exit 2 via run_cli)."""


@dataclass
class PretrainRound:
    rollout: int
    explained_variance: float  # of the fresh batch's returns, before it is fitted
    value_loss: float | None  # mean unclipped loss of the last pass over the batch (None: not fitted)


def miss_message(history: list[PretrainRound], threshold: float, on_miss: str) -> str:
    best = max((r.explained_variance for r in history if r.explained_variance == r.explained_variance), default=None)
    best_text = "nan" if best is None else f"{best:.3f}"
    last = history[-1].explained_variance if history else float("nan")
    then = "continuing with PPO" if on_miss == "continue" else "stopping"
    return (
        f"value pretraining did not reach value_pretrain_threshold={threshold}: explained variance {last:.3f} on the "
        f"last of {len(history)} rollouts (best {best_text}); {then} (value_pretrain_on_miss: {on_miss})"
    )


class ValuePretraining(TrainerCallback):
    """Runs `pretrain_value_model` at the start of a fresh (not resumed) training run."""

    def __init__(self, trainer: TuluPPOTrainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0:
            pretrain_value_model(self.trainer)


def _rollout_inputs(trainer: TuluPPOTrainer, rng: random.Random) -> list[dict]:
    """One generation batch of this process: prompts drawn from the training set, each `num_generations` times."""
    args = trainer.args
    dataset = trainer.train_dataset
    if not hasattr(dataset, "__len__"):
        raise RecipeError("value_pretraining draws its prompts by index: it needs a map-style training dataset")
    n_prompts = max(1, args.per_device_train_batch_size * args.steps_per_generation // args.num_generations)
    rows = [dataset[rng.randrange(len(dataset))] for _ in range(n_prompts)]
    return [row for row in rows for _ in range(args.num_generations)]


def _rollout(trainer: TuluPPOTrainer, inputs: list[dict]) -> dict[str, torch.Tensor]:
    """The trainer's rollout with λ = 1 value targets; its metrics and completion logs are left untouched."""
    metrics, logs = trainer._metrics, trainer._logs
    trainer._metrics, trainer._logs = copy.deepcopy(metrics), copy.deepcopy(logs)
    trainer._monte_carlo_returns = True
    try:
        return trainer._generate_and_score_completions(inputs)
    finally:
        trainer._monte_carlo_returns = False
        trainer._metrics, trainer._logs = metrics, logs


def _explained_variance(trainer: TuluPPOTrainer, batch: dict[str, torch.Tensor]) -> float:
    """Explained variance of the batch's returns by the current value model, averaged over processes."""
    from tulu_recipes.trainers.ppo import per_token_values

    values = []
    with torch.no_grad():
        for rows in _minibatches(trainer, batch, shuffle=None):
            values.append(_values(trainer, batch, rows, per_token_values))
    ev = ppo_math.explained_variance(torch.cat(values), batch["returns"], batch["value_mask"])
    return trainer.accelerator.reduce(ev.float().reshape(1), reduction="mean").item()


def _minibatches(trainer: TuluPPOTrainer, batch: dict[str, torch.Tensor], shuffle: torch.Generator | None):
    n, size = batch["completion_ids"].size(0), trainer.args.per_device_train_batch_size
    order = torch.randperm(n, generator=shuffle) if shuffle is not None else torch.arange(n)
    order = order.to(batch["completion_ids"].device)
    return [order[start : start + size] for start in range(0, n, size)]


def _values(trainer: TuluPPOTrainer, batch: dict[str, torch.Tensor], rows: torch.Tensor, per_token_values):
    input_ids = torch.cat([batch["prompt_ids"][rows], batch["completion_ids"][rows]], dim=1)
    attention_mask = torch.cat([batch["prompt_mask"][rows], batch["completion_mask"][rows]], dim=1)
    with trainer.compute_loss_context_manager():
        values = per_token_values(trainer.value_model, input_ids, attention_mask)
    return trainer._value_columns(values, batch["completion_ids"].size(1))


def _fit(trainer: TuluPPOTrainer, batch: dict[str, torch.Tensor], optimizer, generator: torch.Generator) -> float:
    """`value_pretrain_epochs` passes of 0.5 × unclipped squared error (token mean) over the batch."""
    from tulu_recipes.trainers.ppo import per_token_values

    args, model = trainer.args, trainer.value_model
    params = [p for p in model.parameters() if p.requires_grad]
    max_norm = args.max_grad_norm if args.max_grad_norm and args.max_grad_norm > 0 else float("inf")
    losses: list[float] = []
    for _ in range(args.value_pretrain_epochs):
        losses = []
        for rows in _minibatches(trainer, batch, shuffle=generator):
            values = _values(trainer, batch, rows, per_token_values)
            errors = (values - batch["returns"][rows]) ** 2
            loss = 0.5 * ppo_math.masked_mean(errors, batch["value_mask"][rows])
            loss.backward()
            if trainer.accelerator.num_processes > 1:
                for p in params:
                    if p.grad is not None:
                        p.grad = trainer.accelerator.reduce(p.grad, reduction="mean")
            torch.nn.utils.clip_grad_norm_(params, max_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
    return sum(losses) / max(len(losses), 1)


def _log(trainer: TuluPPOTrainer, values: dict[str, float | None]) -> None:
    """Into the log history and the console at step 0, past RLOOTrainer.log (which would add its PPO metrics)."""
    Trainer.log(trainer, {f"value_pretrain/{key}": value for key, value in values.items()})


def pretrain_value_model(trainer: TuluPPOTrainer) -> list[PretrainRound]:
    """Fit the value model on λ = 1 returns of the starting policy; see the module docstring."""
    args = trainer.args
    if trainer.is_deepspeed_enabled:
        raise RecipeError("value_pretraining runs on a single device or DDP, not under DeepSpeed")
    params = [p for p in trainer.value_model.parameters() if p.requires_grad]
    lr = args.value_pretrain_learning_rate or args.value_learning_rate or args.learning_rate
    optimizer = torch.optim.AdamW(
        params, lr=lr, betas=(args.adam_beta1, args.adam_beta2), eps=args.adam_epsilon, weight_decay=args.weight_decay
    )
    rng = random.Random(args.seed * 1009 + trainer.accelerator.process_index)
    generator = torch.Generator().manual_seed(args.seed)
    history: list[PretrainRound] = []
    reached, completions = False, 0
    trainer.value_model.zero_grad(set_to_none=True)
    trainer.model.train()  # the rollouts of a training step (TRL's generation and batch sizes follow this mode)
    for rollout in range(1, args.value_pretrain_max_rollouts + 1):
        batch = _rollout(trainer, _rollout_inputs(trainer, rng))
        completions += batch["completion_ids"].size(0)
        ev = _explained_variance(trainer, batch)
        reached = ev >= args.value_pretrain_threshold
        loss = None if reached else _fit(trainer, batch, optimizer, generator)
        history.append(PretrainRound(rollout, ev, loss))
        _log(trainer, {"rollout": rollout, "explained_variance": ev, "value_loss": loss, "completions": completions})
        if reached:
            break
    trainer.value_model.zero_grad(set_to_none=True)
    trainer.value_pretraining_history = history
    _log(trainer, {"reached_threshold": float(reached), "rollouts": len(history), "completions": completions})
    if not reached:
        message = miss_message(history, args.value_pretrain_threshold, args.value_pretrain_on_miss)
        if args.value_pretrain_on_miss == "stop":
            raise ValuePretrainingMiss(message)
        logger.warning(message)
    return history
