"""Tülu 3 PPO (paper §6, tulu3-recipe §5.2) built on TRL's `RLOOTrainer` machinery.

TRL removed its PPOTrainer in 1.13 and never let it take reward functions (trl-notes §1). `TuluPPOTrainer`
subclasses `RLOOTrainer` and keeps everything that is not PPO-specific: the dataloader/sampler and generation
buffering (`num_iterations` = PPO epochs over one rollout batch, `steps_per_generation` = mini-batches),
generation with transformers or vLLM (colocate and server modes), the reward-function plumbing (`None` rows,
async functions, `reward_weights`), reference model / PEFT handling, and logging. Written here because TRL lacks
it: a **value model** and the PPO advantage and loss (the pure math is in `ppo_math.py`):

1. Rollout: per completion token, the policy's log-probs, the reference's, and the value model's V_t (the value
   at the position that predicts token t). Logits are divided by the temperature (TRL's fused LM head).
2. Score s = weighted verifier rewards; a completion without EOS scores `non_stop_penalty` (default −10).
3. Rewards r_t = −β·kl1_t, plus s one past the last token (release) or at it (`score_position`); GAE (γ, λ);
   advantages whitened over the local batch. Options (`value_config.py`, default off): separate λ for advantages
   and value targets, a length-adaptive policy λ (`decoupled_gae.py`), value pretraining (`value_pretraining.py`).
4. Loss = clipped policy loss (token mean) + `vf_coef` × clipped value loss (0.5 × token mean, clip
   `cliprange_value` around the rollout values); the release's token mean per few sequences, regrouped every
   epoch: `loss_micro_batch_size` (`microbatch.py`).

**Value model.** A 1-label `AutoModelForSequenceClassification` loaded from `value_model_path` (the paper used
the 8B reward model), or from the policy checkpoint with a fresh scalar head when none is given. Its per-token
values are the classifier head applied to every position, so before training V at the last token equals the
reward model's score of the sequence.

**Score position** (`score_position`). The release added the score one position past EOS and trained the value
there too: V at that position is the value head at the last token, i.e. the reward model's own score of the whole
response (a response that fills `max_completion_length` scores on its last token). `eos` puts the score on the
last token with V = 0 after it (textbook GAE). Default: the release's. Other release details: prompts over
`max_prompt_length` (2048) tokens are dropped, AdamW weight decay 0.01 on every parameter (torch's default, which
the release used), and `lr_schedule_steps` lets the LR schedule span the release's horizon rather than `max_steps`.

**Value optimizer.** The release gave the value model its own AdamW at the policy's LR, clipped on its own.
- Single device / DDP: a second parameter group of the Trainer's optimizer (same AdamW hyperparameters, LR
  `value_learning_rate` or the policy's, same schedule). AdamW updates every parameter independently, so this is
  the same update as a separate AdamW, and the Trainer checkpoints and resumes it for free. Its gradients are
  averaged across processes and clipped on their own to `max_grad_norm` before the step.
- DeepSpeed ZeRO-2/3: a **second DeepSpeed engine** with its own AdamW and schedule, built from the run's
  DeepSpeed config (what the release did), and not TRL <= 1.12's policy+value wrapper with one engine. The wrapper
  would put both models under one optimizer and one gradient clip (a global norm over policy and value, where the
  release clipped each to 1.0), a deviation from the paper's recipe; two engines keep the two clips and need
  nothing from accelerate beyond its policy engine. The value loss is backpropagated through its engine inside
  the loss computation, with the Trainer's 1/accumulation scaling, and the engine steps at the policy's
  accumulation boundaries; the two models share no parameter, so the Trainer's backward of the policy loss is
  unchanged. Under ZeRO-3 the value model is partitioned at load (zero.Init) and its per-token values are read
  from the engine's own forward. The reference model is TRL's ZeRO-3 inference engine (`prepare_deepspeed`).
  Checkpoints hold `value_engine/` (DeepSpeed's per-process weights, optimizer and schedule: exact resume).
- FSDP2: `tulu_recipes.trainers.fsdp` shards policy and value model with `fully_shard` (each its own shard
  units and optimizer); tested on 2 CPU processes (gloo) for the PPO training step (tests/test_ppo_fsdp.py:
  sharded DTensors, two optimizer steps equal the 1-process run). The trainer itself is not wired to it yet
  (accelerate runs FSDP only on accelerators and prepares the policy alone), so it refuses accelerate FSDP; the
  end-to-end GPU run (`accelerate_configs/fsdp.yaml`) is prepared, not run.

The value model is saved (gathered from all processes under ZeRO-3) to `<output_dir>/value_model` with every
checkpoint and at the end. It is loaded with fp32 master weights unless DeepSpeed's bf16 keeps them
(`tulu_recipes.distributed.trainable_dtype`).
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from accelerate.utils import gather_object
from transformers import AutoModelForSequenceClassification, PreTrainedModel, TrainerCallback, get_scheduler
from trl import RLOOConfig, RLOOTrainer
from trl.models.utils import disable_gradient_checkpointing
from trl.trainer.utils import disable_dropout_in_model, get_config_model_id, pad, use_adapter

from tulu_recipes.distributed import check_master_weights, gather_weights_on_save, setup_distributed, trainable_dtype
from tulu_recipes.trainers import ppo_math
from tulu_recipes.trainers.active_sampling import ActiveSamplingArguments, ActiveSamplingMixin
from tulu_recipes.trainers.decoupled_gae import advantages_and_returns
from tulu_recipes.trainers.microbatch import EpochRegroupMixin, MicroBatchArguments, check_micro_batch, grouped_mean
from tulu_recipes.trainers.mismatch import MismatchArguments, SamplerLogprobsMixin
from tulu_recipes.trainers.value_config import ValueLearningFields, check_value_learning
from tulu_recipes.trainers.value_pretraining import ValuePretraining
from tulu_recipes.trainers.verifier_diagnostics import VerifierDiagnosticsArguments
from tulu_recipes.trainers.verifier_rewards import NON_STOP_HELP, VerifierRewardsMixin

VALUE_MODEL_DIR = "value_model"
VALUE_ENGINE_DIR = "value_engine"  # DeepSpeed: the value engine's weights, optimizer and schedule, per process
logger = logging.getLogger(__name__)


@dataclass
class TuluPPOConfig(
    ActiveSamplingArguments,
    MismatchArguments,
    MicroBatchArguments,
    ValueLearningFields,
    VerifierDiagnosticsArguments,
    RLOOConfig,
):
    """`RLOOConfig` with PPO's value-model fields and the Tülu 3 8B PPO defaults (paper Table 21).

    TRL fields with a PPO meaning: `num_generations` = samples per prompt (paper: 1), `num_iterations` = PPO
    epochs per rollout batch (4), `epsilon` = policy clip (0.2), `beta` = KL coefficient (0.05).
    """

    ACTIVE_SAMPLING_GROUPS: ClassVar[bool] = False  # the value baseline: only the pass-rate filter applies

    value_model_path: str | None = field(
        default=None,
        metadata={
            "help": "1-label sequence-classification checkpoint that initializes the value model (paper: "
            "allenai/Llama-3.1-Tulu-3-8B-RM). Default: the policy checkpoint with a new scalar head."
        },
    )
    value_learning_rate: float | None = field(
        default=None, metadata={"help": "Value model learning rate (paper: the policy's). Default: `learning_rate`."}
    )
    vf_coef: float = field(default=0.1, metadata={"help": "Weight of the value loss (paper: 0.1)."})
    cliprange_value: float = field(
        default=0.2, metadata={"help": "Clip of the value prediction around its rollout value (paper: 0.2)."}
    )
    gamma: float = field(default=1.0, metadata={"help": "GAE discount γ (paper: 1.0)."})
    lam: float = field(default=0.95, metadata={"help": "GAE λ (paper: 0.95)."})
    whiten_advantages: bool = field(
        default=True, metadata={"help": "Whiten advantages over the valid tokens of the local batch (paper: yes)."}
    )
    score_position: Literal["after_eos", "eos"] = field(
        default="after_eos",
        metadata={
            "help": "Where the sequence score enters GAE. `after_eos` (the release): one position past the last "
            "token, where the value is the value head at the last token (a reward model's score) and is trained "
            "there too; a response that fills `max_completion_length` scores on its last token. `eos`: on the "
            "last token itself (textbook GAE, V = 0 after the end)."
        },
    )
    max_prompt_length: int | None = field(
        default=2048,
        metadata={
            "help": "Prompts longer than this many tokens (chat template applied) are dropped from the training "
            "set before training (release: --max_prompt_token_length 2048, keeping <=). None keeps all."
        },
    )
    lr_schedule_steps: int | None = field(
        default=None,
        metadata={
            "help": "Optimizer steps the LR schedule spans (warmup ratio included), if not `max_steps`. The 8B "
            "release scheduled over its 10M-episode command horizon (10M // 224 x 4 epochs = 178,568 steps) and "
            "stopped far earlier, so its linear LR stayed within about 1% of the peak."
        },
    )
    weight_decay: float = field(
        default=0.01,
        metadata={
            "help": "AdamW weight decay on every policy and value parameter, norms and biases included (release: "
            "torch.optim.AdamW's default 0.01 on all parameters)."
        },
    )
    non_stop_penalty: float | None = field(default=-10.0, metadata={"help": NON_STOP_HELP})
    num_generations: int | None = field(default=1, metadata={"help": "Completions per prompt (paper: 1)."})
    num_iterations: int = field(default=4, metadata={"help": "PPO epochs over each rollout batch (paper: 4)."})
    beta: float = field(default=0.05, metadata={"help": "KL coefficient β, kl1 in the reward (paper: 0.05 8B)."})
    epsilon: float = field(default=0.2, metadata={"help": "Policy ratio clip (paper: 0.2)."})
    learning_rate: float = field(default=3e-7, metadata={"help": "Policy learning rate (paper: 3e-7 8B, 1e-7 70B)."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "Schedule (paper: linear)."})
    warmup_steps: float = field(default=0.0, metadata={"help": "Warmup; a float below 1 is a ratio (paper: 0)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (paper: 1.0)."})
    max_completion_length: int | None = field(default=2048, metadata={"help": "Response length (paper: 2048)."})
    disable_dropout: bool = field(default=True, metadata={"help": "Dropout off in policy and value (paper)."})

    def __post_init__(self):
        try:
            super().__post_init__()
        except ValueError as err:
            # RLOOConfig refuses a single generation because its leave-one-out baseline needs two; PPO's baseline
            # is the value model. The refusal is the last check of RLOOConfig.__post_init__ (TRL 1.16), so all
            # batch sizes are already resolved when it is skipped here.
            if self.num_generations != 1 or "at least 2 generations" not in str(err):
                raise
        if self.vf_coef < 0 or self.cliprange_value <= 0:
            raise ValueError("vf_coef must be >= 0 and cliprange_value > 0")
        if not 0.0 <= self.gamma <= 1.0 or not 0.0 <= self.lam <= 1.0:
            raise ValueError("gamma and lam must be in [0, 1]")
        if self.score_position not in ("after_eos", "eos"):
            raise ValueError(f"score_position must be 'after_eos' or 'eos', got {self.score_position!r}")
        if self.lr_schedule_steps is not None and self.lr_schedule_steps < 1:
            raise ValueError("lr_schedule_steps must be a positive number of optimizer steps")
        check_value_learning(self)  # value pretraining, decoupled / length-adaptive GAE (value_config.py)
        check_micro_batch(self)  # the release's loss micro-batches (microbatch.py)


def load_value_model(
    path: str, pad_token_id: int | None, vocab_size: int, dtype: torch.dtype | None = None, **kwargs
) -> PreTrainedModel:
    """A 1-label sequence classifier from `path` whose embeddings cover the policy tokenizer's `vocab_size`."""
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=dtype, **kwargs)
    if vocab_size > model.get_input_embeddings().num_embeddings:  # (under ZeRO-3 the weight itself is a stub)
        model.resize_token_embeddings(vocab_size, pad_to_multiple_of=8)
    model.config.pad_token_id = pad_token_id
    return model


def per_token_values(
    value_model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """The value head at every position, `(batch, length)`: the classifier's score as if the sequence ended there.

    Read off the model's own forward with a hook on its `score` head, so a DeepSpeed engine, an FSDP-sharded or a
    DDP-wrapped value model runs (and gathers its parameters) exactly as it does for its pooled output. The values
    carry `0 × sum(pooled output)`: FSDP2 hooks its pre-backward re-gather of the root's parameters (embeddings,
    head) onto the forward's outputs, and a loss that reaches the head only through the hook would find them freed.
    """
    module = getattr(value_model, "module", value_model)  # DeepSpeed engine / DDP wrapper
    head = getattr(module, "score", None)
    if head is None:
        raise ValueError(f"{type(module).__name__} has no `score` head to use as a value head")
    captured: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda _module, _inputs, output: captured.append(output))
    try:
        pooled = value_model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
    finally:
        handle.remove()
    return captured[0].squeeze(-1).float() + 0.0 * pooled.float().sum()


def _zero_dropout(model: torch.nn.Module) -> None:
    disable_dropout_in_model(model)
    for module in model.modules():  # attention dropout is a float attribute, not an nn.Dropout, in most models
        if isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = 0.0


class _ValueModelStep(TrainerCallback):
    """Prepare the value model's gradients before each optimizer step and clear them after it."""

    def __init__(self, trainer: TuluPPOTrainer) -> None:
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self.trainer.value_engine is None:
            self.trainer._prepare_value_gradients()

    def on_optimizer_step(self, args, state, control, **kwargs):
        if self.trainer.value_engine is None:
            self.trainer.value_model.zero_grad(set_to_none=True)


class TuluPPOTrainer(EpochRegroupMixin, ActiveSamplingMixin, SamplerLogprobsMixin, VerifierRewardsMixin, RLOOTrainer):
    """PPO with a value model and verifier rewards; see the module docstring. Text-only prompts."""

    _tag_names = ["trl", "ppo", "tulu-recipes"]

    def __init__(self, *args, value_model: PreTrainedModel | None = None, **kwargs):
        config = kwargs.get("args", args[2] if len(args) > 2 else None)
        if config is not None:
            setup_distributed(config)  # DeepSpeed: bind deepspeed.comm before ZeRO-3 loads any model (zero.Init)
        super().__init__(*args, **kwargs)
        if not isinstance(self.args, TuluPPOConfig):
            raise TypeError("TuluPPOTrainer needs a TuluPPOConfig")
        if self.is_fsdp_enabled:
            raise NotImplementedError(
                "TuluPPOTrainer runs under DeepSpeed ZeRO-2/3, DDP or a single device; accelerate FSDP is not wired "
                "yet (the FSDP2 training step is tested on its own: tests/test_ppo_fsdp.py)"
            )
        self.value_engine = None  # DeepSpeed: the value model's own engine, built with the policy's (create_scheduler)
        if value_model is None:
            policy = self.accelerator.unwrap_model(self.model)
            path = self.args.value_model_path or get_config_model_id(policy.config)
            value_model = load_value_model(
                path,
                self._tokenizer.pad_token_id,
                len(self._tokenizer),
                # fp32 master weights unless DeepSpeed's mixed precision keeps them (tulu_recipes.distributed)
                dtype=trainable_dtype(policy.dtype, self.args),
                trust_remote_code=self.args.trust_remote_code,
            )
        check_master_weights(value_model, self.args, "value model")
        if self.args.disable_dropout:
            _zero_dropout(value_model)
        if self.args.gradient_checkpointing:
            value_model.gradient_checkpointing_enable(self.args.gradient_checkpointing_kwargs)
        # under DeepSpeed the value model is placed (and under ZeRO-3 already partitioned at load) by its engine
        self.value_model = value_model if self.is_deepspeed_enabled else value_model.to(self.accelerator.device)
        self.value_model.train()
        self.add_callback(_ValueModelStep(self))
        self._monte_carlo_returns = False  # value pretraining's rollouts: λ = 1 value targets
        if self.args.value_pretraining:
            self.add_callback(ValuePretraining(self))

    # ----- optimizer, gradients, saving -------------------------------------------------------------------------
    def get_decay_parameter_names(self, model) -> list[str]:
        """Every parameter decays: the release used torch AdamW's weight decay on all of them."""
        return [name for name, _ in model.named_parameters()]

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """The schedule spans `lr_schedule_steps` when set (the release's horizon), else the run's `max_steps`.

        Under DeepSpeed this runs once the policy engine exists and the DeepSpeed config is final, so the value
        model's engine is built here too."""
        scheduler = super().create_scheduler(self.args.lr_schedule_steps or num_training_steps, optimizer)
        if self.is_deepspeed_enabled and self.value_engine is None:
            self._init_value_engine(num_training_steps)
        return scheduler

    def _value_optimizer_and_scheduler(self, num_training_steps: int):
        args = self.args
        params = [p for p in self.value_model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            params,
            lr=args.value_learning_rate or args.learning_rate,
            betas=(args.adam_beta1, args.adam_beta2),
            eps=args.adam_epsilon,
            weight_decay=args.weight_decay,
        )
        horizon = args.lr_schedule_steps or num_training_steps
        scheduler = get_scheduler(
            args.lr_scheduler_type,
            optimizer=optimizer,
            num_warmup_steps=args.get_warmup_steps(horizon),
            num_training_steps=horizon,
            scheduler_specific_kwargs=args.lr_scheduler_kwargs,
        )
        return optimizer, scheduler

    def _init_value_engine(self, num_training_steps: int) -> None:
        """The value model as a second DeepSpeed training engine with its own AdamW and schedule (the release)."""
        import deepspeed

        config = copy.deepcopy(self.accelerator.state.deepspeed_plugin.deepspeed_config)
        config.pop("optimizer", None)  # the client AdamW below, as for the policy when the config names none
        config.pop("scheduler", None)
        config["zero_allow_untested_optimizer"] = True
        optimizer, scheduler = self._value_optimizer_and_scheduler(num_training_steps)
        self.value_engine, _, _, _ = deepspeed.initialize(
            model=self.value_model, optimizer=optimizer, lr_scheduler=scheduler, config=config
        )

    def _value_backward(self, value_term: torch.Tensor) -> None:
        """Backward and step of the value engine at the policy's accumulation boundaries (as accelerate steps the
        policy engine), with the Trainer's 1/accumulation scaling of the loss."""
        engine = self.value_engine
        sync = self.accelerator.sync_gradients
        engine.set_gradient_accumulation_boundary(is_boundary=sync)
        engine.backward(value_term / self.current_gradient_accumulation_steps, scale_wrt_gas=False)
        if sync:
            engine.step()
            norm = engine.get_global_grad_norm()
            if norm is not None:
                self._metrics["train"]["value/grad_norm"].append(float(norm))

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        if self.is_deepspeed_enabled:  # the value model gets its own engine and AdamW (create_scheduler)
            return optimizer
        params = [p for p in self.value_model.parameters() if p.requires_grad]
        present = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if not any(id(p) in present for p in params):
            optimizer.add_param_group(
                {
                    "params": params,
                    "weight_decay": self.args.weight_decay,
                    "lr": self.args.value_learning_rate or self.args.learning_rate,
                }
            )
        return optimizer

    def _prepare_value_gradients(self) -> None:
        """Average the value gradients across processes and clip them to `max_grad_norm` on their own."""
        params = [p for p in self.value_model.parameters() if p.grad is not None]
        if not params:
            return
        if self.accelerator.num_processes > 1:
            for p in params:
                p.grad = self.accelerator.reduce(p.grad, reduction="mean")
        max_norm = self.args.max_grad_norm if self.args.max_grad_norm and self.args.max_grad_norm > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        self._metrics["train"]["value/grad_norm"].append(norm.item())

    def _value_state_dict(self) -> dict[str, torch.Tensor] | None:
        """The full value-model weights (gathered from all processes under ZeRO-3: call it on every process)."""
        engine = self.value_engine
        if engine is not None and engine.zero_optimization_partition_weights():
            return engine._zero3_consolidated_16bit_state_dict()  # what accelerate's get_state_dict uses
        return self.value_model.state_dict()

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        if not _internal_call:  # the final save (checkpoints keep DeepSpeed's own sharded states)
            gather_weights_on_save(self.deepspeed)
        super().save_model(output_dir, _internal_call)
        state = self._value_state_dict()
        if self.accelerator.is_main_process:
            self.value_model.save_pretrained(
                os.path.join(output_dir or self.args.output_dir, VALUE_MODEL_DIR), state_dict=state
            )

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        super()._save_optimizer_and_scheduler(output_dir)
        if self.value_engine is not None:  # its optimizer and schedule; every process writes its partition
            self.value_engine.save_checkpoint(os.path.join(output_dir, VALUE_ENGINE_DIR))

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None and self.value_engine is not None:
            saved = os.path.join(checkpoint, VALUE_ENGINE_DIR)
            if not os.path.isdir(saved):
                raise FileNotFoundError(f"{checkpoint} has no {VALUE_ENGINE_DIR}/ to resume the value model from")
            self.value_engine.load_checkpoint(saved)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        saved = os.path.join(resume_from_checkpoint, VALUE_MODEL_DIR)
        if model is None and os.path.isdir(saved):
            state = AutoModelForSequenceClassification.from_pretrained(saved, dtype=self.value_model.dtype)
            self.value_model.load_state_dict(state.state_dict())

    # ----- rollout ----------------------------------------------------------------------------------------------
    @property
    def _value_runner(self) -> torch.nn.Module:
        """What the value forward runs through: the DeepSpeed engine when there is one, else the model."""
        return self.value_engine if self.value_engine is not None else self.value_model

    def _value_columns(self, values: torch.Tensor, logits_to_keep: int) -> torch.Tensor:
        """V_t per completion token from per-position values of prompt + completion: the value at the position just
        before token t. With `score_position: after_eos` one more column, the value at the last position."""
        if self.args.score_position == "after_eos":
            return values[:, -logits_to_keep - 1 :]
        return values[:, -logits_to_keep - 1 : -1]

    def _value_mask(self, loss_mask: torch.Tensor) -> torch.Tensor:
        """Where the value is trained and the score lands. `eos`: the loss mask. `after_eos` (release): the loss
        mask plus the position after a row's last token, unless the row fills `max_completion_length`."""
        if self.args.score_position == "eos":
            return loss_mask
        lengths = loss_mask.sum(dim=1).long()
        extra = (lengths > 0) & (lengths < self.args.max_completion_length)
        value_mask = torch.nn.functional.pad(loss_mask, (0, 1))
        rows = torch.arange(loss_mask.size(0), device=loss_mask.device)
        value_mask[rows[extra], lengths[extra]] = 1
        return value_mask

    def _completion_values(self, input_ids, attention_mask, logits_to_keep: int, batch_size: int) -> torch.Tensor:
        """V_t for each completion position (see `_value_columns`), in chunks of `batch_size`."""
        chunks = []
        for start in range(0, input_ids.size(0), batch_size):
            ids, mask = input_ids[start : start + batch_size], attention_mask[start : start + batch_size]
            with self.accelerator.autocast():  # as the policy runs (accelerate autocasts only what it prepares)
                values = per_token_values(self._value_runner, ids, mask)
            chunks.append(self._value_columns(values, logits_to_keep))
        return torch.cat(chunks, dim=0)

    def _reference_logps(self, input_ids, attention_mask, logits_to_keep: int, batch_size: int) -> torch.Tensor:
        if self.ref_model is not None:
            logps, _, _ = self._get_per_token_logps_and_entropies(
                self.ref_model, input_ids, attention_mask, logits_to_keep, batch_size
            )
            return logps
        model = self.accelerator.unwrap_model(self.model)  # PEFT: the reference is the adapter-free (or "ref") model
        with use_adapter(model, adapter_name="ref" if "ref" in model.peft_config else None):
            logps, _, _ = self._get_per_token_logps_and_entropies(
                self.model, input_ids, attention_mask, logits_to_keep, batch_size
            )
        return logps

    def _pad(self, sequences: list[list[int]], side: str) -> tuple[torch.Tensor, torch.Tensor]:
        tensors = [torch.tensor(ids, dtype=torch.long) for ids in sequences]
        ids = pad(
            tensors,
            padding_value=self._tokenizer.pad_token_id,
            padding_side=side,
            pad_to_multiple_of=self.pad_to_multiple_of,
        )
        mask = pad(
            [torch.ones_like(t) for t in tensors],
            padding_value=0,
            padding_side=side,
            pad_to_multiple_of=self.pad_to_multiple_of,
        )
        device = self.accelerator.device
        return ids.to(device), mask.to(device)

    def _generate_and_score_completions(self, inputs: list[dict]) -> dict[str, torch.Tensor]:
        mode = "train" if self.model.training else "eval"
        if any("image" in x or "images" in x for x in inputs):
            raise ValueError("TuluPPOTrainer supports text prompts only")
        prompts = [x["prompt"] for x in inputs]
        prompt_ids_list, completion_ids_list, completions = self._generate(prompts)  # TRL: transformers or vLLM
        prompt_ids, prompt_mask = self._pad(prompt_ids_list, "left")
        completion_ids, completion_mask = self._pad(completion_ids_list, "right")
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        logits_to_keep = completion_ids.size(1)
        batch_size = self.args.per_device_train_batch_size if mode == "train" else self.args.per_device_eval_batch_size

        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            old_logps, _, _ = self._get_per_token_logps_and_entropies(
                self.model, input_ids, attention_mask, logits_to_keep, batch_size
            )
            ref_logps = (
                self._reference_logps(input_ids, attention_mask, logits_to_keep, batch_size)
                if self.beta != 0.0
                else None
            )
            with disable_gradient_checkpointing(self.value_model, self.args.gradient_checkpointing_kwargs):
                old_values = self._completion_values(input_ids, attention_mask, logits_to_keep, batch_size)
        sampler_weights = self._rollout_mismatch(old_logps, completion_mask, mode)  # trainers.mismatch

        # TRL's reward plumbing (+ no-EOS penalty and per-dataset metrics from the mixin); gathered over processes
        rewards_per_func = self._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        rank, n = self.accelerator.process_index, len(prompts)
        local = slice(rank * n, (rank + 1) * n)
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        all_scores = (rewards_per_func * weights).nansum(dim=1)
        scored = ~torch.isnan(rewards_per_func[local]).all(dim=1)
        scores = all_scores[local]
        # a row that no reward function scores carries no signal: it is left out of both losses
        loss_mask = completion_mask * scored.unsqueeze(1).to(completion_mask.dtype)

        value_mask = self._value_mask(loss_mask)
        width = value_mask.size(1)  # logits_to_keep, + 1 with score_position after_eos
        padded = torch.nn.functional.pad
        rewards, kl = ppo_math.token_rewards(
            scores,
            padded(old_logps, (0, width - logits_to_keep)),
            padded(ref_logps, (0, width - logits_to_keep)) if ref_logps is not None else None,
            padded(loss_mask, (0, width - logits_to_keep)),
            self.beta,
            score_mask=value_mask,
        )
        lengths = loss_mask.sum(dim=1)  # response tokens: the length-adaptive λ's l
        advantages, returns = advantages_and_returns(
            rewards, old_values, value_mask, lengths, self.args, monte_carlo=self._monte_carlo_returns
        )
        advantages, kl = advantages[:, :logits_to_keep] * loss_mask, kl[:, :logits_to_keep]
        self._metrics[mode]["value/mean_advantage"].append(ppo_math.masked_mean(advantages, loss_mask).item())
        if self.args.whiten_advantages:
            advantages = ppo_math.masked_whiten(advantages, loss_mask)

        self._log_rollout(mode, rewards_per_func, all_scores, kl, loss_mask, old_values, returns, value_mask)
        self._log_completions_table(prompts, completions, rewards_per_func, advantages, loss_mask)
        return {
            "prompt_ids": prompt_ids,
            "prompt_mask": prompt_mask,
            "completion_ids": completion_ids,
            "completion_mask": completion_mask,
            "loss_mask": loss_mask,
            "value_mask": value_mask,
            "old_logps": old_logps,
            "old_values": old_values,
            "advantages": advantages,
            "returns": returns,
        } | ({"sampler_weights": sampler_weights} if sampler_weights is not None else {})

    def _log_rollout(self, mode, rewards_per_func, all_scores, kl, mask, values, returns, value_mask) -> None:
        metrics = self._metrics[mode]
        stats = self.accelerator.reduce(
            torch.stack([(kl * mask).sum(), mask.sum().float(), mask.any(dim=1).sum().float()]),
            reduction="sum",
        )
        if self.beta != 0.0:
            metrics["kl"].append((stats[0] / stats[1].clamp(min=1.0)).item())
            metrics["kl_per_sequence"].append((stats[0] / stats[2].clamp(min=1.0)).item())
        for i, name in enumerate(self.reward_func_names):
            metrics[f"rewards/{name}/mean"].append(torch.nanmean(rewards_per_func[:, i]).item())
        scored = ~torch.isnan(rewards_per_func).all(dim=1)
        if scored.any():
            metrics["reward"].append(all_scores[scored].mean().item())
        metrics["value/mean"].append(ppo_math.masked_mean(values, value_mask).item())
        metrics["value/explained_variance"].append(ppo_math.explained_variance(values, returns, value_mask).item())
        # what TRL's own `_generate_and_score_completions` does with values sent by reward functions
        for name in sorted(set(gather_object(list(self._pending_metrics)))):
            values_ = self._pending_metrics.get(name, [])
            total = self.accelerator.gather(
                torch.tensor([sum(values_), len(values_)], dtype=torch.float32, device=self.accelerator.device)
            )
            total = total.view(-1, 2).sum(dim=0).tolist()
            metrics[name].append(total[0] / max(total[1], 1.0))
        self._pending_metrics.clear()

    def _log_completions_table(self, prompts, completions, rewards_per_func, advantages, mask) -> None:
        self._logs["prompt"].extend(gather_object(prompts))
        self._logs["completion"].extend(gather_object(completions))
        for i, name in enumerate(self.reward_func_names):
            self._logs["rewards"][name].extend(rewards_per_func[:, i].tolist())
        self._logs["advantages"].extend(gather_object(advantages[:, 0].tolist()))  # the first token's advantage
        for column in sorted(set(gather_object(list(self._pending_extra_logs)))):
            values = self._pending_extra_logs.get(column, [None] * len(prompts))
            self._logs["extra"][column].extend(gather_object(values))
        self._pending_extra_logs.clear()

    # ----- loss -------------------------------------------------------------------------------------------------
    def _compute_loss(self, model, inputs):
        mode = "train" if self.model.training else "eval"
        input_ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
        attention_mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
        logits_to_keep = inputs["completion_ids"].size(1)
        mask = inputs["loss_mask"]

        logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, compute_entropy=True
        )
        # `loss_micro_batch_size`: the mean over row groups of each group's token-mean losses (microbatch.py)
        group = self.args.loss_micro_batch_size
        reduce = (lambda fn, *args: fn(*args)) if group is None else (lambda fn, *args: grouped_mean(fn, group, *args))
        pg_loss, pg_clip = reduce(
            ppo_math.policy_loss,
            logps,
            inputs["old_logps"],
            inputs["advantages"],
            mask,
            self.epsilon_low,
            inputs.get("sampler_weights"),
        )
        with self.accelerator.autocast():  # the policy's bf16 autocast (accelerate wraps only the policy's forward)
            values = per_token_values(self._value_runner, input_ids, attention_mask)
        values = self._value_columns(values, logits_to_keep)
        vf_loss, vf_clip = reduce(
            ppo_math.value_loss,
            values,
            inputs["old_values"],
            inputs["returns"],
            inputs["value_mask"],
            self.args.cliprange_value,
        )
        loss = pg_loss + self.args.vf_coef * vf_loss
        if self.value_engine is not None and mode == "train" and torch.is_grad_enabled():
            # the two models share no parameter, so the value gradients come from this term alone: its own engine
            # takes them now, and the Trainer's backward of the returned loss reaches the policy only
            self._value_backward(self.args.vf_coef * vf_loss)
            loss = pg_loss + self.args.vf_coef * vf_loss.detach()

        with torch.no_grad():
            log_ratio = logps - inputs["old_logps"]
            approx_kl = ppo_math.masked_mean(0.5 * log_ratio**2, mask)
            stats = torch.stack([pg_loss, vf_loss, pg_clip, vf_clip, approx_kl, ppo_math.masked_mean(entropies, mask)])
            stats = self.accelerator.gather(stats.detach().unsqueeze(0)).mean(dim=0).tolist()
        metrics = self._metrics[mode]
        for key, value in zip(
            ["policy_loss", "value_loss", "clip_ratio/region_mean", "value/clip_ratio", "approx_kl", "entropy"],
            stats,
            strict=True,
        ):
            metrics[key].append(value)
        return loss
