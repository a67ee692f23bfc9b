"""Length-normalized DPO (Tülu 3 `dpo_norm`) on TRL's `DPOTrainer`.

The loss is TRL's own `loss_type: [sigmoid_norm]` (trl-notes §4.2), used unchanged:

    L = -log σ(β [(ℓ̄θ(y_c) - ℓ̄ref(y_c)) - (ℓ̄θ(y_r) - ℓ̄ref(y_r))]),   ℓ̄ = mean log-prob over the completion tokens

Which tokens ℓ̄ averages over is `preference_turns`:

- `all` (default, the release's `dpo_tune_cache.py::encode_dpo_example`): every assistant turn of the chosen and
  of the rejected conversation, content plus EOS, in the sum and in the count it is divided by. The earlier turns
  are shared by both sides but divided by different lengths, so they do not cancel and are trained. The trained
  span is the release's: for every non-assistant message i, tokens [len(render(m[:i])), len(render(m[:i+1],
  generation prompt if m[i+1] is an assistant's))) are masked and the rest is kept (recipe doc §1.3).
- `final` (TRL's view): only the final assistant message, the completion after the rendered prompt.

Rows longer than `max_length` (keep_start): TRL drops every row whose prompt alone fills the window. Under `all` a
row is kept while both sides still have a trained token inside it, as the release's filter on all-masked labels
did; under `final` TRL's rule holds.

The two coincide on single-turn pairs. `all` is carried by two extra dataset columns (`chosen_loss_mask`,
`rejected_loss_mask`, one flag per token of prompt + answer) that the collator turns into TRL's `completion_mask`,
which TRL's loss, metrics and reference pass all read; nothing else of TRL changes. The masks are computed here
because transformers' assistant mask needs `{% generation %}` markers, which the inference template DPO uses lacks.

What is ours:

- `rewards_norm/{chosen,rejected,margins,accuracies}`: the rewards the loss actually compares, β·(ℓ̄θ − ℓ̄ref).
  TRL's `rewards/*` stay, but they are β times summed log-ratios, not what `sigmoid_norm` optimizes.
- Reference log-probs computed once before training (TRL's `precompute_ref_log_probs`, so no reference model is
  kept in memory) and persisted under `ref_logprobs_cache_dir` with a key that changes exactly when they would
  (`ref_cache.py`): a rerun or a resumed run reuses them, a changed model, dataset or truncation recomputes them.
  Under ZeRO-3 the weights hash is taken over gathered weights (TRL's hashes empty partitions there).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import torch
from accelerate.utils import broadcast_object_list
from datasets import Dataset
from trl import DPOConfig, DPOTrainer
from trl.data_utils import is_conversational
from trl.trainer.dpo_trainer import DataCollatorForPreference
from trl.trainer.utils import get_config_model_id, pad

from tulu_recipes.trainers import ref_cache

logger = logging.getLogger("tulu_recipes")
MASK_COLUMNS = ("chosen_loss_mask", "rejected_loss_mask")


def turn_spans(tokenize, prompt: list[dict]) -> list[tuple[int, int]]:
    """Token spans of the non-assistant messages of `prompt`, as the release masks them (recipe doc §1.3).

    `tokenize(messages, add_generation_prompt)` returns token ids. Message i spans [len(render(m[:i])),
    len(render(m[:i+1]))), rendered with the generation prompt when the next message is an assistant's (the final
    answer always follows the prompt), so role headers are masked too.
    """
    spans = []
    for i, message in enumerate(prompt):
        if message["role"] == "assistant":
            continue
        start = len(tokenize(prompt[:i], False)) if i else 0
        next_is_assistant = i + 1 == len(prompt) or prompt[i + 1]["role"] == "assistant"
        spans.append((start, len(tokenize(prompt[: i + 1], next_is_assistant))))
    return spans


def all_turns_mask(length: int, spans: list[tuple[int, int]]) -> list[int]:
    """1 on every token of prompt + answer outside the non-assistant spans (all assistant turns), else 0."""
    mask = [1] * length
    for start, end in spans:
        mask[start : min(end, length)] = [0] * max(0, min(end, length) - start)
    return mask


@dataclass
class TurnMaskCollator(DataCollatorForPreference):
    """TRL's preference collator; where rows carry per-token loss masks, they become the `completion_mask`."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        output = super().torch_call(examples)
        if MASK_COLUMNS[0] not in examples[0]:
            return output
        masks = [list(e[MASK_COLUMNS[0]]) for e in examples] + [list(e[MASK_COLUMNS[1]]) for e in examples]
        if self.max_length is not None:  # the same per-sequence truncation TRL applies to the token ids
            keep_start = self.truncation_mode == "keep_start"
            cut = slice(None, self.max_length) if keep_start else slice(-self.max_length, None)
            masks = [m[cut] for m in masks]
        completion_mask = pad(
            [torch.tensor(m, dtype=torch.long) for m in masks],
            padding_value=0,
            padding_side="right",
            pad_to_multiple_of=self.pad_to_multiple_of,
        )
        if completion_mask.shape != output["completion_mask"].shape:
            raise ValueError(
                f"`{MASK_COLUMNS[0]}`/`{MASK_COLUMNS[1]}` do not match the token ids "
                f"({tuple(completion_mask.shape)} vs {tuple(output['completion_mask'].shape)})"
            )
        output["completion_mask"] = completion_mask
        return output


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
    preference_turns: Literal["all", "final"] = field(
        default="all",
        metadata={
            "help": "Which assistant turns of a multi-turn pair count in log p(y) and |y|: `all` (the Tülu 3 "
            "release, every assistant turn of chosen and of rejected) or `final` (TRL's, only the last answer)."
        },
    )
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._use_turn_masks()

    # ---- which assistant turns count (`preference_turns`) ------------------------------------------------------

    def _use_turn_masks(self) -> None:
        """Swap TRL's text collator for the one that reads the per-token loss masks (same settings)."""
        collator = self.data_collator
        if type(collator) is DataCollatorForPreference:
            self.data_collator = TurnMaskCollator(**{f.name: getattr(collator, f.name) for f in fields(collator)})

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        all_turns = getattr(args, "preference_turns", "final") == "all" and is_conversational(next(iter(dataset)))
        if not all_turns:
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        # TRL drops every row whose prompt alone fills `max_length` (keep_start): its final answer is cut off. With
        # every assistant turn trained, such a row can still have trained tokens inside the window, and the release
        # kept it; so TRL's filter is skipped (it is the only use of `max_length` there) and the masks decide below.
        unfiltered = copy.copy(args)
        unfiltered.max_length = None
        dataset = super()._prepare_dataset(dataset, processing_class, unfiltered, dataset_name)

        def tokenize(messages: list[dict], add_generation_prompt: bool) -> list[int]:
            if not messages:
                return []
            return processing_class.apply_chat_template(
                messages, tokenize=True, return_dict=True, add_generation_prompt=add_generation_prompt
            )["input_ids"]

        def add_masks(row: dict) -> dict:
            spans = turn_spans(tokenize, list(row["prompt"]))
            prompt_len = len(row["prompt_ids"])
            return {
                MASK_COLUMNS[0]: all_turns_mask(prompt_len + len(row["chosen_ids"]), spans),
                MASK_COLUMNS[1]: all_turns_mask(prompt_len + len(row["rejected_ids"]), spans),
            }

        kwargs = (
            {"desc": f"Masking every assistant turn of the {dataset_name} dataset"}
            if isinstance(dataset, Dataset)
            else {}
        )
        dataset = dataset.map(add_masks, **kwargs)
        if args.max_length is None or args.truncation_mode != "keep_start":
            return dataset
        window = args.max_length

        def trains_both_sides(row: dict) -> bool:
            return any(row[MASK_COLUMNS[0]][:window]) and any(row[MASK_COLUMNS[1]][:window])

        if isinstance(dataset, Dataset):
            kwargs = {"desc": f"Dropping {dataset_name} rows with no trained token in the first {window}"}
        return dataset.filter(trains_both_sides, **kwargs)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if not self._is_vision_dataset:
            self._signature_columns = list(dict.fromkeys([*self._signature_columns, *MASK_COLUMNS]))

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
            "preference_turns": getattr(self.args, "preference_turns", "final"),
            "precision": {"bf16": bool(self.args.bf16), "fp16": bool(self.args.fp16)},
        }

    def _precompute_ref_logps(self, dataset: Dataset, name: str, batch_size: int) -> Dataset:
        self._use_turn_masks()  # TRL precomputes inside its __init__, before ours has swapped the collator
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
