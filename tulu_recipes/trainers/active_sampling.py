"""Active sampling and a prompt pass-rate filter for the RLVR trainers (GRPO, RLOO, PPO).

Written here because TRL 1.16 has neither (TRL issue #3708 asks for open-instruct's `active_sampling`): its
`GRPOTrainer`/`RLOOTrainer` train on every group they sample, and `frac_reward_zero_std` only reports how many
taught nothing. The semantics follow open-instruct's `grpo_fast` (`active_sampling`, `filter_zero_std_samples`,
`no_resampling_pass_rate`), adapted to TRL's batch layout:

- **Active sampling** (`active_sampling`, GRPO/RLOO). After TRL generates and scores a batch, every group of
  `num_generations` completions whose verifier rewards are all equal is dropped, and fresh prompts from an extra
  seeded sampler over the training set are generated and scored (each round draws exactly the missing number of
  groups) until the batch holds as many groups as before. The rounds are bounded (`active_sampling_max_rounds`);
  when the bound is hit the run stops with the pass rates it saw (`active_sampling_on_exhausted: stop`, the
  default) or trains on the groups it kept (`train`). Rewards are judged after the no-EOS penalty and before any
  KL term, like open-instruct's scores.
- **Pass-rate filter** (`pass_rate_filter_visits` = K, all three algorithms). A prompt whose completions were all
  solved (weighted reward > 0) on each of its last K visits, or all failed (`pass_rate_filter_on`), leaves the pool:
  from then on it is swapped out of incoming batches, before generation, for a prompt that has not left. With
  PPO's one completion per prompt a group has one member and always zero spread, so there this filter is the
  active sampling (PPO's value baseline gives such a completion an advantage, so PPO refuses `active_sampling`).

Advantages are TRL's, computed per generation round before the drop: exact for group-level scaling (GRPO's
`scale_rewards: group`, RLOO's leave-one-out); batch-level scaling (GRPO `scale_rewards: batch`, RLOO
`normalize_advantages`) uses each round's own batch. Rounds are concatenated with prompts padded on the left and
completions on the right; rotary position embeddings make the extra left padding invisible to the model (up to
float rounding). `num_items_in_batch` (GRPO's token normalizer) is recounted over the kept rows. Checkpoints keep
the pass-rate history, the retired prompts and the refill order (`active_sampling.json`). One process only:
groups can straddle processes in TRL's sampler, so dropping one would need a cross-process exchange.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch

from tulu_recipes.config import RecipeError

logger = logging.getLogger(__name__)
STATE_FILE = "active_sampling.json"  # in each checkpoint: pass-rate history, retired prompts, refill order
PROMPT_SIDE = ("prompt_ids", "prompt_mask")  # left-padded; every other per-token tensor is right-padded


class ActiveSamplingExhausted(RecipeError):
    """The batch could not be filled with groups that carry signal (or the pool emptied)."""


@dataclass
class ActiveSamplingArguments:
    """Config fields shared by `TuluGRPOConfig`, `TuluRLOOConfig` and `TuluPPOConfig`; all off by default."""

    # PPO sets this False: its value baseline gives a zero-spread group an advantage, so groups are never dropped
    ACTIVE_SAMPLING_GROUPS: ClassVar[bool] = True

    active_sampling: bool = field(
        default=False,
        metadata={
            "help": "Drop every group whose `num_generations` completions got the same reward and refill the batch "
            "with groups from fresh prompts (open-instruct's active_sampling; GRPO/RLOO, one process). Paper: off."
        },
    )
    active_sampling_max_rounds: int = field(
        default=8,
        metadata={"help": "Refill rounds per batch before `active_sampling_on_exhausted` applies (>= 1)."},
    )
    active_sampling_on_exhausted: Literal["stop", "train"] = field(
        default="stop",
        metadata={
            "help": "When the refill rounds run out: `stop` the run with the pass rates seen, or `train` on the "
            "groups kept so far (trimmed to whole mini-batches)."
        },
    )
    pass_rate_filter_visits: int = field(
        default=0,
        metadata={
            "help": "K: a prompt whose completions were all solved (weighted reward > 0) or all failed on each of "
            "its last K visits leaves the prompt pool (see `pass_rate_filter_on`). 0 = off (paper)."
        },
    )
    pass_rate_filter_on: Literal["solved", "failed", "both"] = field(
        default="both",
        metadata={
            "help": "Which uniform outcome retires a prompt under `pass_rate_filter_visits`: all solved, "
            "all failed, or either."
        },
    )

    def __post_init__(self):
        check_active_sampling_args(self)
        super().__post_init__()


def check_active_sampling_args(args: Any) -> None:
    """ValueError naming the field for an active-sampling value that cannot work (run before TRL's own checks)."""
    if args.active_sampling_max_rounds < 1:
        raise ValueError(f"active_sampling_max_rounds must be >= 1, got {args.active_sampling_max_rounds}")
    if args.active_sampling_on_exhausted not in ("stop", "train"):
        raise ValueError(
            f"active_sampling_on_exhausted must be 'stop' or 'train', got {args.active_sampling_on_exhausted!r}"
        )
    if args.pass_rate_filter_visits < 0:
        raise ValueError(f"pass_rate_filter_visits must be >= 0 (0 = off), got {args.pass_rate_filter_visits}")
    if args.pass_rate_filter_on not in ("solved", "failed", "both"):
        raise ValueError(f"pass_rate_filter_on must be 'solved', 'failed' or 'both', got {args.pass_rate_filter_on!r}")
    if args.active_sampling and not type(args).ACTIVE_SAMPLING_GROUPS:
        raise ValueError(
            "active_sampling: PPO's value baseline gives a completion an advantage even when its group's rewards "
            "are all equal, so PPO does not drop groups; use pass_rate_filter_visits to retire solved/failed prompts"
        )
    if args.active_sampling and (args.num_generations or 0) < 2:
        raise ValueError(
            f"active_sampling needs num_generations >= 2 (a group of {args.num_generations} always has equal rewards)"
        )
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if (args.active_sampling or args.pass_rate_filter_visits) and world_size > 1:
        raise ValueError(
            f"active_sampling / pass_rate_filter_visits run on one process; this launch has WORLD_SIZE={world_size}"
        )


def prompt_key(row: dict) -> str:
    """Identity of a training prompt: its prompt and ground truth (the columns a verifier sees)."""
    return json.dumps([row.get("prompt"), row.get("ground_truth")], sort_keys=True, default=str)


def group_outcomes(scores: torch.Tensor, num_generations: int) -> list[tuple[bool, int, int]]:
    """Per group: (rewards differ, completions solved, completions scored). Unscored rows (NaN) are ignored;
    a group with fewer than two scored completions has no spread. Solved means weighted reward > 0."""
    out = []
    for group in scores.view(-1, num_generations):
        scored = group[~torch.isnan(group)]
        spread = scored.numel() >= 2 and bool(scored.max() - scored.min() > 1e-6)
        out.append((spread, int((scored > 0).sum()), scored.numel()))
    return out


def select_rows(batch: dict[str, Any], rows: list[int]) -> dict[str, Any]:
    """The given rows of a rollout dict (0-dim tensors such as `num_items_in_batch` are kept as they are)."""
    index = torch.tensor(rows, dtype=torch.long)
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.ndim > 0:
            out[key] = value[index.to(value.device)]
        elif isinstance(value, list):
            out[key] = [value[i] for i in rows]
        else:
            out[key] = value
    return out


def concat_rollouts(parts: list[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """Concatenate rollout dicts along the batch: prompt tensors padded on the left to the widest, per-token
    completion tensors on the right (token ids with `pad_token_id`, everything else with 0)."""
    if len(parts) == 1:
        return parts[0]
    out = {}
    for key, first in parts[0].items():
        values = [part[key] for part in parts]
        if first is None or (isinstance(first, torch.Tensor) and first.ndim == 0):
            out[key] = first
        elif isinstance(first, list):
            out[key] = [x for value in values for x in value]
        elif first.ndim == 1:
            out[key] = torch.cat(values)
        elif first.ndim == 2:
            width = max(v.size(1) for v in values)
            fill = pad_token_id if key.endswith("_ids") else 0
            left = key in PROMPT_SIDE
            padded = [
                torch.nn.functional.pad(v, (width - v.size(1), 0) if left else (0, width - v.size(1)), value=fill)
                for v in values
            ]
            out[key] = torch.cat(padded)
        else:
            raise ValueError(f"active sampling cannot concatenate the {first.ndim}-d rollout tensor {key!r}")
    return out


def pass_rate_summary(outcomes: list[tuple[bool, int, int]]) -> str:
    """`0/4 x 9, 4/4 x 3`: how many groups had each number of solved completions."""
    counts = Counter(f"{solved}/{scored}" for _, solved, scored in outcomes)
    return ", ".join(f"{rate} x {n}" for rate, n in sorted(counts.items(), key=lambda kv: kv[0]))


class ActiveSampler:
    """The per-run state: prompt-pass history, retired prompts and the refill sampler's order."""

    def __init__(self, args: Any, dataset: Any, num_generations: int, steps_per_generation: int) -> None:
        self.args = args
        self.dataset = dataset
        self.num_generations = num_generations
        self.steps_per_generation = steps_per_generation
        self.history: dict[str, deque[float]] = {}
        self.retired: set[str] = set()
        self._order: list[int] = []
        self._generator = torch.Generator().manual_seed(int(args.seed))

    @classmethod
    def for_trainer(cls, trainer: Any) -> ActiveSampler | None:
        """The sampler a trainer needs, or None when both features are off; ValueError for what it cannot run."""
        args = trainer.args
        if not (getattr(args, "active_sampling", False) or getattr(args, "pass_rate_filter_visits", 0)):
            return None
        if trainer.accelerator.num_processes > 1:
            raise ValueError("active_sampling / pass_rate_filter_visits run on one process only")
        dataset = trainer.train_dataset
        if dataset is None or not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise ValueError("active_sampling / pass_rate_filter_visits need a map-style (indexable) train dataset")
        if {"image", "images"} & set(getattr(dataset, "column_names", None) or []):
            raise ValueError("active_sampling / pass_rate_filter_visits support text prompts only")
        return cls(args, dataset, trainer.num_generations, args.steps_per_generation)

    def state_dict(self) -> dict[str, Any]:
        return {
            "history": {key: list(rates) for key, rates in self.history.items()},
            "retired": sorted(self.retired),
            "order": list(self._order),
            "generator": self._generator.get_state().tolist(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        visits = self.args.pass_rate_filter_visits
        self.history = {key: deque(rates, maxlen=visits) for key, rates in state["history"].items()} if visits else {}
        self.retired = set(state["retired"])
        self._order = list(state["order"])
        self._generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))

    # ----- the prompt pool ------------------------------------------------------------------------------------------
    def draw(self, groups: int, exclude: set[str], columns: list[str]) -> list[list[dict]]:
        """Up to `groups` fresh prompts from a seeded, endlessly reshuffled order over the training set, each as
        `num_generations` copies of the row (the layout of TRL's RepeatSampler), skipping retired prompts and those
        in `exclude` (which grows by the ones drawn). Fewer only when two passes over the set find no more."""
        drawn, scanned, size = [], 0, len(self.dataset)
        while len(drawn) < groups and scanned < 2 * size:
            if not self._order:
                self._order = torch.randperm(size, generator=self._generator).tolist()[::-1]
            row = self.dataset[self._order.pop()]
            scanned += 1
            key = prompt_key(row)
            if key in self.retired or key in exclude:
                continue
            exclude.add(key)
            row = {c: row[c] for c in columns if c in row}
            drawn.append([dict(row) for _ in range(self.num_generations)])
        return drawn

    def record_visits(self, groups: list[list[dict]], outcomes: list[tuple[bool, int, int]]) -> int:
        """Append each group's pass rate to its prompt's history; return how many prompts this retired."""
        visits = self.args.pass_rate_filter_visits
        if not visits:
            return 0
        retired = 0
        for group, (_, solved, scored) in zip(groups, outcomes, strict=True):
            if scored == 0:
                continue
            key = prompt_key(group[0])
            history = self.history.setdefault(key, deque(maxlen=visits))
            history.append(solved / scored)
            if len(history) == visits and key not in self.retired and self._uniform(history):
                self.retired.add(key)
                retired += 1
        return retired

    def _uniform(self, history: deque[float]) -> bool:
        on = self.args.pass_rate_filter_on
        return (on in ("solved", "both") and all(r == 1.0 for r in history)) or (
            on in ("failed", "both") and all(r == 0.0 for r in history)
        )

    # ----- one generation batch -------------------------------------------------------------------------------------
    def fill(self, trainer: Any, generate: Callable[[list[dict]], dict], inputs: list[dict]) -> dict[str, Any]:
        """Wraps `trainer._generate_and_score_completions` for a training batch (see the module docstring)."""
        if not trainer.model.training:
            return generate(inputs)
        g = self.num_generations
        columns = list(inputs[0].keys())
        groups = [inputs[i : i + g] for i in range(0, len(inputs), g)]
        wanted = len(groups)
        seen = {prompt_key(group[0]) for group in groups}
        fresh_groups = [group for group in groups if prompt_key(group[0]) not in self.retired]
        swapped = wanted - len(fresh_groups)
        if swapped:
            fresh_groups += self.draw(swapped, seen, columns)
            if len(fresh_groups) < wanted:
                raise ActiveSamplingExhausted(
                    f"pass_rate_filter_visits: {len(self.retired)} of {len(self.dataset)} prompts have left the pool "
                    f"and too few remain to fill a batch of {wanted} prompts"
                )
        metrics = trainer._metrics["train"]
        kept, seen_outcomes, rounds, retired, batch = [], [], 0, 0, fresh_groups
        while True:
            out = generate([row for group in batch for row in group])
            outcomes = group_outcomes(trainer._active_scores(), g)
            retired += self.record_visits(batch, outcomes)
            if not self.args.active_sampling:
                kept = [out]
                break
            seen_outcomes += outcomes
            rows = [i * g + j for i, (spread, _, _) in enumerate(outcomes) if spread for j in range(g)]
            if rows:
                kept.append(select_rows(out, rows))
            have = sum(part["completion_ids"].size(0) for part in kept) // g
            if have >= wanted or rounds >= self.args.active_sampling_max_rounds:
                break
            batch = self.draw(wanted - have, seen, columns)
            if not batch:
                break
            rounds += 1
        if self.args.active_sampling:
            kept = self._finish(kept, wanted, rounds, seen_outcomes, trainer._tokenizer.pad_token_id)
            dropped = [o for o in seen_outcomes if not o[0]]
            metrics["active_sampling/refill_rounds"].append(float(rounds))
            metrics["active_sampling/groups_generated"].append(float(len(seen_outcomes)))
            metrics["active_sampling/groups_dropped"].append(float(len(dropped)))
            metrics["active_sampling/groups_dropped_all_solved"].append(
                float(sum(1 for _, solved, scored in dropped if scored and solved == scored))
            )
            metrics["active_sampling/groups_dropped_all_failed"].append(
                float(sum(1 for _, solved, scored in dropped if scored and solved == 0))
            )
        if self.args.pass_rate_filter_visits:
            metrics["pass_rate_filter/prompts_retired"].append(float(len(self.retired)))
            metrics["pass_rate_filter/prompts_swapped"].append(float(swapped))
            if retired:
                logger.info("pass-rate filter: %d prompt(s) left the pool (%d in all)", retired, len(self.retired))
        batch_out = concat_rollouts(kept, trainer._tokenizer.pad_token_id)
        if "num_items_in_batch" in batch_out:  # GRPO's token normalizer spans the generation batch: recount it
            mask = batch_out["completion_mask"]
            if batch_out.get("tool_mask") is not None:
                mask = mask * batch_out["tool_mask"]
            batch_out["num_items_in_batch"] = trainer.accelerator.gather(mask.sum()).sum()
        return batch_out

    def _finish(self, kept: list[dict], wanted: int, rounds: int, outcomes: list, pad_id: int) -> list[dict]:
        """The kept parts, or, when fewer than `wanted` groups have signal, stop or trim to whole mini-batches."""
        g, steps = self.num_generations, self.steps_per_generation
        have = sum(part["completion_ids"].size(0) for part in kept) // g
        if have >= wanted:
            return kept
        usable = have
        while usable and (usable * g) % steps:
            usable -= 1
        if self.args.active_sampling_on_exhausted == "stop" or usable == 0:
            raise ActiveSamplingExhausted(
                f"active sampling filled {have} of {wanted} groups ({have / wanted:.0%}) after {rounds} refill "
                f"round(s) (active_sampling_max_rounds={self.args.active_sampling_max_rounds}); solved/scored per "
                f"group drawn: {pass_rate_summary(outcomes)}. Raise active_sampling_max_rounds or num_generations, "
                "or set active_sampling_on_exhausted: train"
                + (" (set, but the groups kept fill no whole mini-batch)" if usable == 0 and have else "")
            )
        logger.warning("active sampling: training on %d of %d groups after %d refill rounds", usable, wanted, rounds)
        merged = concat_rollouts(kept, pad_id)
        return [select_rows(merged, list(range(usable * g)))]


class ActiveSamplingMixin:
    """Puts an `ActiveSampler` around the trainer's `_generate_and_score_completions` when the config asks for it.

    The wrapper is bound on the instance, so it also wraps a subclass's own override (TuluPPOTrainer's rollout).
    With both features off nothing is wrapped or recorded: the trainer computes exactly what TRL computes.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._active_sampler = ActiveSampler.for_trainer(self)
        self._active_rewards: torch.Tensor | None = None
        if self._active_sampler is not None:
            inner = self._generate_and_score_completions
            sampler = self._active_sampler
            self._generate_and_score_completions = lambda inputs: sampler.fill(self, inner, inputs)

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        super()._save_optimizer_and_scheduler(output_dir)
        if getattr(self, "_active_sampler", None) is not None and self.args.should_save:
            with open(os.path.join(output_dir, STATE_FILE), "w", encoding="utf-8") as f:
                json.dump(self._active_sampler.state_dict(), f)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        path = os.path.join(checkpoint, STATE_FILE) if checkpoint else None
        if getattr(self, "_active_sampler", None) is not None and path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self._active_sampler.load_state_dict(json.load(f))

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if getattr(self, "_active_sampler", None) is not None:
            self._active_rewards = rewards_per_func
        return rewards_per_func

    def _active_scores(self) -> torch.Tensor:
        """Weighted reward per completion of the last scored batch (all processes); NaN where none scored it."""
        rewards = self._active_rewards
        weights = self.reward_weights.to(rewards.device).unsqueeze(0)
        scores = (rewards * weights).nansum(dim=1)
        return torch.where(torch.isnan(rewards).all(dim=1), torch.full_like(scores, float("nan")), scores)
