"""The release's loss micro-batches for PPO and GRPO: a token mean over a few sequences, regrouped every epoch.

What TRL 1.16 does (and our trainers did before this field): `_prepare_inputs` shuffles a rollout batch once,
right after generating it, and cuts it into `steps_per_generation` slices of `per_device_train_batch_size` rows;
every PPO epoch (`num_iterations`) replays the same slices in the same order. The loss of a slice is one token
mean over all of its rows (PPO: `ppo_math`'s masked means; GRPO `bnpo`), and the Trainer divides it by the
accumulation steps.

What the release did (open-instruct `ppo_vllm_thread_ray_gtrl.py`, and `grpo_vllm_thread_ray_gtrl.py` for Tülu
3.1): each epoch draws a fresh `np.random.permutation` of the process's rollout batch, cuts it into mini-batches
(one optimizer step each) and those into micro-batches of `--per_device_train_batch_size` sequences (2 for 8B
and 3.1, 1 for 70B); each micro-batch's loss is the token mean over its own sequences, and DeepSpeed averages the
micro-batches of a step. A step's gradient is thus the mean over micro-batches of their token means.

`loss_micro_batch_size: k` gives that loss without tying it to the forward batch: a slice of
`per_device_train_batch_size` rows is cut into groups of k consecutive rows, each group's loss is its token mean,
and the slice's loss is the mean over its groups, so with the Trainer's 1/accumulation the step's gradient is
the mean over all groups of the step, as in the release. Every epoch (including the first) the rollout batch is
permuted anew, from a generator seeded by (`seed`, process, step): deterministic, resumable, and independent of
the global RNG that sampling uses. Written here because TRL has neither: its loss reductions are per slice or per
generation batch, and its one shuffle is per rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from trl.trainer.utils import split_tensor_dict

from tulu_recipes.trainers.active_sampling import concat_rollouts, select_rows

_SEED_MIX = 1_000_003  # a prime: (seed, process, step) -> one generator seed without collisions in practice


@dataclass
class MicroBatchArguments:
    loss_micro_batch_size: int | None = field(
        default=None,
        metadata={
            "help": "Sequences per token mean in the loss, regrouped at random every PPO epoch (release: "
            "`--per_device_train_batch_size` 2 for 8B and Tülu 3.1, 1 for 70B, with a fresh permutation each "
            "epoch). Each `per_device_train_batch_size` slice is cut into groups of this many rows; its loss is "
            "the mean of the groups' token means (policy and value loss; GRPO: `loss_type: bnpo` only). Must "
            "divide `per_device_train_batch_size`. None: one token mean per slice, TRL's single shuffle per rollout."
        },
    )


def check_micro_batch(args: Any, grpo: bool = False) -> None:
    """Refuse a `loss_micro_batch_size` that does not tile the micro-batch or that GRPO's loss cannot group."""
    size = args.loss_micro_batch_size
    if size is None:
        return
    if size < 1 or args.per_device_train_batch_size % size:
        raise ValueError(
            f"loss_micro_batch_size ({size}) must be >= 1 and divide per_device_train_batch_size "
            f"({args.per_device_train_batch_size})"
        )
    # other GRPO loss types normalize by the whole generation batch or per sequence, and the adaptive entropy
    # controller would update once per group
    if grpo and (args.loss_type != "bnpo" or args.use_adaptive_entropy):
        raise ValueError(
            "loss_micro_batch_size needs `loss_type: bnpo` (a token mean per micro-batch, as the release) and "
            "`use_adaptive_entropy: false`"
        )


def row_groups(size: int, *values: Any) -> list[tuple[Any, ...]]:
    """`values` cut into consecutive groups of `size` rows; anything that is not a batched tensor repeats."""
    rows = next(v.size(0) for v in values if isinstance(v, torch.Tensor) and v.ndim > 0)
    return [
        tuple(v[start : start + size] if isinstance(v, torch.Tensor) and v.ndim > 0 else v for v in values)
        for start in range(0, rows, size)
    ]


def grouped_mean(loss_fn: Callable[..., tuple[torch.Tensor, ...]], size: int, *args: Any) -> tuple[torch.Tensor, ...]:
    """`loss_fn(*args)` on each group of `size` rows, each of its outputs averaged over the groups."""
    outputs = [loss_fn(*group) for group in row_groups(size, *args)]
    return tuple(torch.stack(parts).mean() for parts in zip(*outputs, strict=True))


def epoch_generator(seed: int, process: int, step: int) -> torch.Generator:
    """The generator of the permutation that starts the epoch at `step` on `process`."""
    return torch.Generator().manual_seed(((seed * _SEED_MIX + process) * _SEED_MIX + step) % 2**63)


def regroup(slices: list[dict[str, Any]], generator: torch.Generator) -> list[dict[str, Any]]:
    """The rows of all `slices` in a new random order, cut back into as many slices of the same size."""
    batch = concat_rollouts(slices, pad_token_id=0)  # slices of one padded batch: equal widths, nothing to pad
    rows = next(len(v) for v in batch.values() if isinstance(v, list) or (torch.is_tensor(v) and v.ndim > 0))
    order = torch.randperm(rows, generator=generator).tolist()
    return split_tensor_dict(select_rows(batch, order), len(slices))


class EpochRegroupMixin:
    """Permute the rollout batch at the start of every epoch over it when `loss_micro_batch_size` is set."""

    def _prepare_inputs(self, generation_batch):
        inputs = super()._prepare_inputs(generation_batch)  # TRL: generates at the start of a rollout
        slices = self.args.steps_per_generation
        if not self.model.training or self.args.loss_micro_batch_size is None or self._step % slices:
            return inputs
        generator = epoch_generator(self.args.seed, self.accelerator.process_index, self._step)
        self._buffered_inputs = regroup(self._buffered_inputs, generator)
        return self._buffered_inputs[0]


class GroupedLossMixin(EpochRegroupMixin):
    """GRPO: the loss of a micro-batch is the mean of TRL's `bnpo` loss (a token mean) over its row groups.

    Each group runs TRL's loss on its own rows (its own forward), so everything TRL computes per call, the KL and
    importance-sampling terms and the 1/accumulation scaling included, applies per group; its metrics are logged
    once per group. Place it before the mismatch mixin in the MRO, so that mixin sees each group's rows."""

    def _compute_loss(self, model, inputs):
        size = self.args.loss_micro_batch_size
        rows = inputs["completion_ids"].size(0)
        if size is None or size >= rows:
            return super()._compute_loss(model, inputs)
        losses = []
        for start in range(0, rows, size):
            group = select_rows(inputs, list(range(start, min(start + size, rows))))
            losses.append(super()._compute_loss(model, group))
        return torch.stack(losses).mean()
