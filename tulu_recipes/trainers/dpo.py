"""Length-normalized DPO (Tülu 3 `dpo_norm`) on TRL's `DPOTrainer`.

The loss is TRL's own `loss_type: [sigmoid_norm]` (trl-notes §4.2), used unchanged:

    L = -log σ(β [(ℓ̄θ(y_c) - ℓ̄ref(y_c)) - (ℓ̄θ(y_r) - ℓ̄ref(y_r))]),   ℓ̄ = mean log-prob over the completion tokens

The completion is the final assistant message's content plus EOS (what the Tülu template renders after the
`<|assistant|>\\n` generation prompt), which is exactly Tülu's trained span for single-turn pairs. For multi-turn
pairs TRL counts only the final assistant turn while Tülu counts every assistant turn in log p(y) and |y|; earlier
assistant turns are part of the prompt here and are neither trained nor counted.

What is ours:

- `rewards_norm/{chosen,rejected,margins,accuracies}`: the rewards the loss actually compares, β·(ℓ̄θ − ℓ̄ref).
  TRL's `rewards/*` stay, but they are β times summed log-ratios, not what `sigmoid_norm` optimizes.
- Reference log-probs computed once before training (TRL's `precompute_ref_log_probs`, so no reference model is
  kept in memory) and persisted under `ref_logprobs_cache_dir` with a key that changes exactly when they would
  (`ref_cache.py`): a rerun or a resumed run reuses them, a changed model, dataset or truncation recomputes them.
  Under ZeRO-3 the weights hash is taken over gathered weights (TRL's hashes empty partitions there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate.utils import broadcast_object_list
from datasets import Dataset
from trl import DPOConfig, DPOTrainer
from trl.trainer.utils import get_config_model_id

from tulu_recipes.trainers import ref_cache

logger = logging.getLogger("tulu_recipes")


@dataclass
class TuluDPOConfig(DPOConfig):
    """`DPOConfig` with Tülu 3 8B DPO defaults (paper Tables 18-20) and a persistent reference log-prob cache."""

    loss_type: list[str] = field(
        default_factory=lambda: ["sigmoid_norm"],
        metadata={"help": "DPO loss; `sigmoid_norm` is Tülu's length-normalized `dpo_norm`."},
    )
    beta: float = field(default=5.0, metadata={"help": "DPO β (paper: 5 with dpo_norm)."})
    learning_rate: float = field(default=5e-7, metadata={"help": "Peak learning rate (paper: 5e-7 8B, 2e-7 70B)."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "Schedule (paper: linear)."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warmup; a float below 1 is a ratio (paper: 0.1)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs (paper: 1)."})
    max_length: int | None = field(default=2048, metadata={"help": "Truncate prompt+completion (paper: 2048)."})
    weight_decay: float = field(default=0.0, metadata={"help": "Weight decay (paper: 0.0)."})
    precompute_ref_log_probs: bool = field(
        default=True,
        metadata={"help": "Compute reference log-probs once before training; no reference model stays in memory."},
    )
    ref_logprobs_cache_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder where precomputed reference log-probs are kept and reused across runs (default: "
            "`<output_dir>/ref_logprobs`); keyed by reference weights, token ids, truncation and template."
        },
    )


class TuluDPOTrainer(DPOTrainer):
    """`DPOTrainer` that logs length-normalized rewards and persists its precomputed reference log-probs."""

    # ---- persisted reference log-probs -------------------------------------------------------------------------

    def ref_cache_dir(self) -> Path:
        configured = getattr(self.args, "ref_logprobs_cache_dir", None)
        return Path(configured) if configured else Path(self.args.output_dir) / "ref_logprobs"

    def ref_cache_parts(self, dataset: Dataset) -> dict:
        """Everything the reference log-probs of `dataset` depend on."""
        reference = self.ref_model if self.ref_model is not None else self.model
        return {
            "reference": ref_cache.model_fingerprint(self._precompute_model_hash, reference.config),
            "tokens": ref_cache.token_fingerprint(dataset),
            "max_length": self.args.max_length,
            "truncation_mode": self.args.truncation_mode,
            "pad_to_multiple_of": self.args.pad_to_multiple_of,
            "chat_template": self._tokenizer.chat_template,
            "ld_alpha": self.ld_alpha,
            "precision": {"bf16": bool(self.args.bf16), "fp16": bool(self.args.fp16)},
        }

    def _precompute_ref_logps(self, dataset: Dataset, name: str, batch_size: int) -> Dataset:
        if not isinstance(dataset, Dataset):
            return super()._precompute_ref_logps(dataset, name, batch_size)  # TRL raises its own error
        if not getattr(self, "_weights_hash_gathered", False):
            # First call, from __init__ before any training step: the model still holds the reference weights.
            self._weights_hash_gathered = True
            reference = self.ref_model if self.ref_model is not None else self.model
            if ref_cache.is_zero3_partitioned(reference):
                self._precompute_model_hash = ref_cache.weights_digest(reference)
        parts = self.ref_cache_parts(dataset)
        key = [ref_cache.cache_key(parts)]
        broadcast_object_list(key, from_process=0)  # ZeRO-3 shards make the weights hash rank-dependent
        path = self.ref_cache_dir() / f"{key[0]}.pt"

        cached = [ref_cache.load(path, len(dataset)) if self.accelerator.is_main_process else None]
        broadcast_object_list(cached, from_process=0)
        if cached[0] is not None:
            logger.info("Reusing reference log-probs for the %s set from %s", name, path)
            return ref_cache.attach(dataset, *cached[0])

        # TRL names its own datasets-cache file after this hash; give it the full key so it cannot return values
        # computed under other truncation settings either.
        weights_hash, self._precompute_model_hash = self._precompute_model_hash, key[0]
        try:
            dataset = super()._precompute_ref_logps(dataset, name, batch_size)
        finally:
            self._precompute_model_hash = weights_hash
        if self.accelerator.is_main_process:
            meta = {
                "key": key[0],
                "split": name,
                "rows": len(dataset),
                "reference_path": get_config_model_id((self.ref_model or self.model).config),
                "reference_weights_sha256": weights_hash,
                **{k: v for k, v in parts.items() if k != "chat_template"},
                "chat_template_sha256": ref_cache.cache_key({"t": parts["chat_template"]}),
            }
            ref_cache.save(path, *ref_cache.columns_of(dataset), meta)
            logger.info("Saved reference log-probs for the %s set to %s", name, path)
        self.accelerator.wait_for_everyone()
        return dataset

    # ---- length-normalized reward metrics ----------------------------------------------------------------------

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        policy, reference = [], []

        def keep(store):
            def hook(_module, _args, output):
                log_probs = getattr(output, "log_probs", None)  # only fused-head forwards carry per-token log-probs
                if log_probs is not None:
                    store.append(log_probs.detach())

            return hook

        handles = [model.register_forward_hook(keep(policy))]
        if not self.precompute_ref_logps:
            # A separate reference model, or (PEFT) the policy itself run again with its adapter disabled.
            ref_module = self.ref_model if self.ref_model is not None else self.model
            if ref_module is not model:
                handles.append(ref_module.register_forward_hook(keep(reference)))
        try:
            result = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        finally:
            for handle in handles:
                handle.remove()
        if self.ld_alpha is None and policy:
            ref_token_logps = None if self.precompute_ref_logps else (reference or policy)[-1]
            self._log_normalized_rewards(inputs, policy[0], ref_token_logps)
        return result

    def normalized_rewards(
        self, inputs: dict, token_logps: torch.Tensor, ref_token_logps: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """β·(ℓ̄θ − ℓ̄ref) for the chosen and rejected halves, normalized by the same count `sigmoid_norm` uses."""
        completion_mask = inputs["completion_mask"]
        shifted = completion_mask[:, 1:].to(torch.float32)
        seq_len = shifted.size(1)
        logps = (token_logps[:, -seq_len:].float() * shifted).sum(dim=1)
        if ref_token_logps is None:
            ref_logps = torch.cat([inputs["ref_chosen_logps"], inputs["ref_rejected_logps"]]).to(logps)
        else:
            ref_logps = (ref_token_logps[:, -seq_len:].float() * shifted).sum(dim=1)
        counts = completion_mask.sum(dim=1).clamp(min=1).to(logps)
        rewards = self.beta * (logps - ref_logps) / counts
        chosen, rejected = rewards.chunk(2, dim=0)
        return chosen, rejected

    def _log_normalized_rewards(self, inputs, token_logps, ref_token_logps) -> None:
        mode = "train" if self.model.training else "eval"
        chosen, rejected = self.normalized_rewards(inputs, token_logps, ref_token_logps)
        chosen, rejected = self.accelerator.gather(chosen), self.accelerator.gather(rejected)
        metrics = self._metrics[mode]
        metrics["rewards_norm/chosen"].append(chosen.mean().item())
        metrics["rewards_norm/rejected"].append(rejected.mean().item())
        metrics["rewards_norm/margins"].append((chosen - rejected).mean().item())
        metrics["rewards_norm/accuracies"].append((chosen > rejected).float().mean().item())
