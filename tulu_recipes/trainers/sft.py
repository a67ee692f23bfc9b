"""SFT with the Tülu 3 defaults and its sum loss, on TRL's `SFTTrainer`.

Only the loss reduction is ours. TRL's default is an exact token mean over the accumulated global batch. The
Tülu 3 release instead summed token losses and divided by a constant number of sequences per optimizer step
(paper §4.3.2: "effectively weights all tokens equally"), which no maintained trainer offers:

    loss = sum over trained tokens of every sequence in the optimizer step of -log p  /  S,
    S = per_device_train_batch_size * gradient_accumulation_steps * world_size

With per-device batch 1 this is exactly the release (accelerate divides by the accumulation steps, DDP averages
over ranks). The divisor does not depend on how the step is split into micro-batches, so gradient accumulation
does not change the gradient. Evaluation keeps TRL's token mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from trl import SFTConfig, SFTTrainer


@dataclass
class TuluSFTConfig(SFTConfig):
    """`SFTConfig` with Tülu 3 8B defaults (paper Table 11) and `loss_reduction`."""

    loss_reduction: Literal["mean", "sum"] = field(
        default="sum",
        metadata={
            "help": "`sum`: token-sum loss divided by the constant number of sequences per optimizer step (the "
            "Tülu 3 release); `mean`: TRL's token mean over the global batch."
        },
    )
    learning_rate: float = field(default=5e-6, metadata={"help": "Peak learning rate (paper: 5e-6 8B, 2e-6 70B)."})
    num_train_epochs: float = field(default=2.0, metadata={"help": "Epochs (paper: 2)."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "Schedule (paper: linear)."})
    warmup_steps: float = field(default=0.03, metadata={"help": "Warmup; a float below 1 is a ratio (paper: 0.03)."})
    weight_decay: float = field(default=0.0, metadata={"help": "Weight decay (paper: 0.0)."})
    max_length: int | None = field(default=4096, metadata={"help": "Truncate longer sequences (paper: 4096)."})
    assistant_only_loss: bool = field(
        default=True, metadata={"help": "Train only on assistant content + EOS (needs `{% generation %}` markers)."}
    )


class TuluSFTTrainer(SFTTrainer):
    """`SFTTrainer` whose training loss follows `args.loss_reduction`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if getattr(self.args, "loss_reduction", "mean") == "sum":
            # compute_loss divides by the whole step's sequence count itself; the Trainer must not divide by GA.
            self.loss_is_scaled_for_ga = True

    def sequences_per_step(self) -> int:
        world = self.accelerator.num_processes // self.get_tp_size()
        return self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps * world

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if getattr(self.args, "loss_reduction", "mean") != "sum" or not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        divisor = self.sequences_per_step()
        if not self.args.average_tokens_across_devices:
            # TRL multiplies by the world size only when averaging tokens across devices; DDP then averages.
            divisor //= self.accelerator.num_processes // self.get_tp_size()
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch=divisor)
