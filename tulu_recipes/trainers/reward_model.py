"""Reward-model training with the Tülu 3 defaults, on TRL's `RewardTrainer` (used as is).

The Tülu 3 reward model (paper Table 36) only initializes the PPO value function: trained from the SFT model on
the preference mixture with the Bradley-Terry loss −log σ(r_c − r_r) (TRL's loss when the data has no `margin`),
LR 3e-6 linear, 1 epoch, max length 2048, effective batch 256. TRL drops pairs longer than `max_length` rather
than truncating them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import RewardConfig


@dataclass
class TuluRewardConfig(RewardConfig):
    """`RewardConfig` with the Tülu 3 8B reward-model defaults (paper Table 36)."""

    learning_rate: float = field(default=3e-6, metadata={"help": "Peak learning rate (paper: 3e-6)."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "Schedule (paper: linear)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs (paper: 1)."})
    max_length: int | None = field(
        default=2048, metadata={"help": "Pairs with a side longer than this are dropped (paper: 2048)."}
    )
    weight_decay: float = field(default=0.0, metadata={"help": "Weight decay (paper: 0.0)."})
