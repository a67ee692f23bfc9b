"""GRPO and RLOO with verifier rewards: TRL's trainers with the shared RLVR mixin (no-EOS penalty, per-dataset
verifier metrics, long-prompt filter: `trainers.verifier_rewards`), active sampling (`trainers.active_sampling`),
the sampler/learner mismatch log (`trainers.mismatch`; its corrections for GRPO, whose loss is per token) and,
for GRPO, the release's loss micro-batches (`trainers.microbatch`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

from tulu_recipes.trainers.active_sampling import ActiveSamplingArguments, ActiveSamplingMixin
from tulu_recipes.trainers.long_prompts import MAX_PROMPT_HELP
from tulu_recipes.trainers.microbatch import GroupedLossMixin, MicroBatchArguments, check_micro_batch
from tulu_recipes.trainers.mismatch import GRPOMismatchMixin, MismatchArguments, RLOOMismatchMixin
from tulu_recipes.trainers.verifier_diagnostics import VerifierDiagnosticsArguments
from tulu_recipes.trainers.verifier_rewards import NON_STOP_HELP, VerifierRewardsMixin


@dataclass
class TuluGRPOConfig(
    ActiveSamplingArguments, MismatchArguments, MicroBatchArguments, VerifierDiagnosticsArguments, GRPOConfig
):
    """`GRPOConfig` plus the no-EOS penalty and the sampler-mismatch corrections (`trainers.mismatch`). The
    Tülu 3.1 settings are in `recipes/tulu3-8b/rlvr-grpo.yaml`."""

    non_stop_penalty: float | None = field(default=None, metadata={"help": NON_STOP_HELP})
    max_prompt_length: int | None = field(default=2048, metadata={"help": MAX_PROMPT_HELP})

    def __post_init__(self):
        super().__post_init__()
        check_micro_batch(self, grpo=True)


@dataclass
class TuluRLOOConfig(ActiveSamplingArguments, VerifierDiagnosticsArguments, RLOOConfig):
    """`RLOOConfig` plus the no-EOS penalty."""

    non_stop_penalty: float | None = field(default=None, metadata={"help": NON_STOP_HELP})
    max_prompt_length: int | None = field(default=2048, metadata={"help": MAX_PROMPT_HELP})


class TuluGRPOTrainer(ActiveSamplingMixin, GroupedLossMixin, GRPOMismatchMixin, VerifierRewardsMixin, GRPOTrainer):
    """TRL's `GRPOTrainer` with the no-EOS penalty, per-dataset verifier metrics, the sampler mismatch logged
    (and corrected when asked: `trainers.mismatch`) and the release's loss micro-batches (`trainers.microbatch`)."""


class TuluRLOOTrainer(ActiveSamplingMixin, RLOOMismatchMixin, VerifierRewardsMixin, RLOOTrainer):
    """TRL's `RLOOTrainer` with the no-EOS penalty, per-dataset verifier metrics and the sampler mismatch logged."""
