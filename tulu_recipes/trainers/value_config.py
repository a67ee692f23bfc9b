"""Config fields for a PPO value model that learns: value pretraining and decoupled / length-adaptive GAE.

The techniques come from VC-PPO (arXiv 2503.01491) and VAPO (arXiv 2504.05118); `TuluPPOConfig` inherits these
fields. Every default keeps the Tülu 3 release's computation: one GAE λ (`lam`) for advantages and value targets,
and no pretraining phase. TRL has none of this (it has no PPO at all since 1.13), hence the fields here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ON_MISS = ("continue", "stop")


@dataclass
class ValueLearningFields:
    """Mixin dataclass: the value-learning fields of `TuluPPOConfig` (checked by `check_value_learning`)."""

    lam_policy: float | None = field(
        default=None,
        metadata={
            "help": "GAE λ of the policy advantages (VC-PPO/VAPO: 0.95). Default: `lam`, one λ for both (the paper)."
        },
    )
    lam_critic: float | None = field(
        default=None,
        metadata={
            "help": "GAE λ of the value model's targets (VC-PPO/VAPO: 1.0, i.e. Monte-Carlo returns, no bootstrap "
            "from a biased value model). Default: `lam`, one λ for both (the paper)."
        },
    )
    lam_policy_alpha: float | None = field(
        default=None,
        metadata={
            "help": "Length-adaptive policy λ (VAPO): λ_policy = 1 − 1/(α·l) for a response of l tokens, clipped "
            "at 0 (VAPO: α = 0.05); replaces `lam_policy`. Default: off."
        },
    )
    value_pretraining: bool = field(
        default=False,
        metadata={
            "help": "Before any policy update, fit the value model on Monte-Carlo returns (λ = 1) of the frozen "
            "starting policy's rollouts (VC-PPO/VAPO value pretraining) until `value_pretrain_threshold` or "
            "`value_pretrain_max_rollouts`. Default: off (the paper). Single device or DDP."
        },
    )
    value_pretrain_threshold: float = field(
        default=0.5,
        metadata={
            "help": "Explained variance, measured on each fresh pretraining rollout before it is fitted, that ends "
            "value pretraining. 0.5: the λ = 1 advantages R − V then have at most half the variance that the "
            "batch-mean baseline of GRPO/RLOO leaves (explained variance 0), so the value model earns its cost."
        },
    )
    value_pretrain_max_rollouts: int = field(
        default=16,
        metadata={
            "help": "Most rollout batches (each `per_device_train_batch_size` x `steps_per_generation` "
            "completions per process) generated for value pretraining."
        },
    )
    value_pretrain_epochs: int = field(
        default=4, metadata={"help": "Passes of the value optimizer over each pretraining rollout batch."}
    )
    value_pretrain_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Constant AdamW learning rate of value pretraining (its own optimizer, dropped afterwards). "
            "Default: `value_learning_rate`, else `learning_rate`."
        },
    )
    value_pretrain_on_miss: Literal["continue", "stop"] = field(
        default="continue",
        metadata={
            "help": "When pretraining ends below the threshold: `continue` (log it and start PPO with the value "
            "model as fitted) or `stop` (one-line error, exit 2, nothing saved)."
        },
    )


def _in_unit_interval(config: Any, name: str) -> None:
    value = getattr(config, name)
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def check_value_learning(config: Any) -> None:
    """Raise ValueError naming the field for a value-learning setting that cannot run."""
    _in_unit_interval(config, "lam_policy")
    _in_unit_interval(config, "lam_critic")
    _in_unit_interval(config, "value_pretrain_threshold")
    if config.lam_policy_alpha is not None and config.lam_policy_alpha <= 0:
        raise ValueError(f"lam_policy_alpha must be > 0, got {config.lam_policy_alpha}")
    if config.value_pretrain_max_rollouts < 1:
        raise ValueError(f"value_pretrain_max_rollouts must be >= 1, got {config.value_pretrain_max_rollouts}")
    if config.value_pretrain_epochs < 1:
        raise ValueError(f"value_pretrain_epochs must be >= 1, got {config.value_pretrain_epochs}")
    lr = config.value_pretrain_learning_rate
    if lr is not None and lr <= 0:
        raise ValueError(f"value_pretrain_learning_rate must be > 0, got {lr}")
    if config.value_pretrain_on_miss not in ON_MISS:
        raise ValueError(
            f"value_pretrain_on_miss must be one of {', '.join(ON_MISS)}, got {config.value_pretrain_on_miss!r}"
        )
    if config.value_pretraining and getattr(config, "deepspeed", None):
        raise ValueError("value_pretraining runs on a single device or DDP, not under DeepSpeed (`deepspeed`)")
