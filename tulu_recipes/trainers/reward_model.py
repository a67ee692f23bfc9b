"""Reward-model training with the Tülu 3 release settings, on TRL's `RewardTrainer` (used as is).

The Tülu 3 reward model (paper Table 36) only initializes the PPO value function: trained from the SFT model on
the preference mixture with the Bradley-Terry loss −log σ(r_c − r_r) (TRL's loss when the data has no `margin`),
LR 3e-6 linear, 1 epoch, max length 2048, effective batch 256. TRL drops pairs longer than `max_length` rather
than truncating them.

From the release's `open_instruct/reward_modeling.py` (open-instruct 30d11b4, the Tülu 3 release commit):

- the scalar head is re-initialized as N(0, 1/sqrt(hidden_size + 1)) (Stiennon et al. 2020, p. 11), not with
  the model's `initializer_range`; `init_score_head` does it here from its own seeded generator, so the head is the
  same for a seed whatever else consumed random numbers before it;
- the optimizer is `torch.optim.AdamW(lr, eps=1e-5)`, so Adam ε 1e-5 and torch's default weight decay 0.01. The
  release decays every parameter; the HF Trainer exempts biases and norm weights, the one remaining difference.

transformers has no option for a classifier-head init other than `initializer_range`, hence the small function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from trl import RewardConfig


@dataclass
class TuluRewardConfig(RewardConfig):
    """`RewardConfig` with the Tülu 3 8B reward-model settings (paper Table 36, release `reward_modeling.py`)."""

    learning_rate: float = field(default=3e-6, metadata={"help": "Peak learning rate (paper: 3e-6)."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "Schedule (paper: linear)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs (paper: 1)."})
    max_length: int | None = field(
        default=2048, metadata={"help": "Pairs with a side longer than this are dropped (paper: 2048)."}
    )
    adam_epsilon: float = field(default=1e-5, metadata={"help": "Adam ε (release: 1e-5)."})
    weight_decay: float = field(default=0.01, metadata={"help": "Weight decay (release: 0.01, torch AdamW's default)."})
    init_score_head: bool = field(
        default=True,
        metadata={
            "help": "Re-initialize the scalar head as N(0, 1/sqrt(hidden_size + 1)) from `seed` (the release); "
            "false keeps the model's own init (std `initializer_range`)."
        },
    )


def score_head(model: torch.nn.Module) -> torch.nn.Linear:
    """The classification head of a `*ForSequenceClassification` model (`score` for Llama-style models)."""
    for name in ("score", "classifier"):
        head = getattr(model, name, None)
        if isinstance(head, torch.nn.Linear):
            return head
    raise ValueError(f"{type(model).__name__} has no linear `score` or `classifier` head to initialize")


def init_score_head(model: torch.nn.Module, seed: int) -> float:
    """Draw the head's weights from N(0, 1/sqrt(hidden_size + 1)) with a generator seeded by `seed`; bias 0.

    Returns the std used. Under DeepSpeed ZeRO-3 the (sharded) head is gathered, written on rank 0 and re-sharded.
    """
    head = score_head(model)
    std = 1.0 / math.sqrt(model.config.hidden_size + 1)
    generator = torch.Generator(device="cpu").manual_seed(seed)

    def write() -> None:
        with torch.no_grad():
            values = torch.randn(head.weight.shape, generator=generator, dtype=torch.float32) * std
            head.weight.copy_(values.to(head.weight.dtype))
            if head.bias is not None:
                head.bias.zero_()

    from transformers.integrations import is_deepspeed_zero3_enabled

    if is_deepspeed_zero3_enabled():
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(head.parameters()), modifier_rank=0):
            write()
    else:
        write()
    return std
