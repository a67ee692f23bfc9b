"""Sampler/learner mismatch: the sampler's own log-probs, how far the learner's are from them, and two corrections.

When rollouts are sampled in another precision or engine than the learner computes in (bf16 sampling on CPU here,
vLLM on GPUs), the log-probs the sampler drew tokens with differ from the learner's log-probs of the same tokens,
so the policy-gradient ratio is taken against the wrong behaviour policy. TRL 1.16 measures and corrects this only
for vLLM (`vllm_importance_sampling_*`, gated on `use_vllm`); its transformers `generate` path returns no sampler
log-probs at all. Written here because no library does it for that path:

- `SampledTokenLogprobs` records log p(token) of each sampled token from the logits `generate` sampled from
  (divided by the temperature, as the learner's `logits / temperature`), one row of log-softmax kept at a time.
- `mismatch_stats`: mean and max |Δ log p| over the completion tokens, and the ratio exp(learner − sampler)'s
  min / mean / max / std (its spread), logged every step under TRL's vLLM metric names (`sampling/...`).
- `correction_weights`, both off by default (the release sampled with vLLM and corrected nothing):
  - truncated importance sampling (`tis_cap`; verl, FlashRL): w = min(exp(old − sampler), C);
  - open-instruct's ρ clamp and mask (`use_rho_correction`): ρ = exp(old − sampler) clamped to
    [`rho_clamp_lower_bound`, `rho_clamp_upper_bound`], and tokens whose ρ lies outside
    [`rho_mask_lower_bound`, `rho_mask_upper_bound`] get weight 0 (a bound of 0 turns that side off).
  The per-token policy loss is multiplied by w (detached; the KL term is not weighted, as in TRL's vLLM path).
  With sampler = learner every weight is exactly 1.0, so the loss is bit-for-bit the uncorrected one.

`SamplerLogprobsMixin` adds the recorder to TRL's `generate` call; `GRPOMismatchMixin` logs and corrects for GRPO,
`TuluPPOTrainer` for PPO. With `bf16: true` the sampler is the policy under accelerate's per-forward bf16 autocast
(fp32 weights). Measured on SmolLM2-135M, 16 x 16 tokens, 1 thread, load 11: 15.0-15.7 tok/s that way, 15.3-15.5
with one outer autocast around `generate` (no gain from caching the weight casts), 16.3-18.1 with a bf16 copy of the
weights: not adopted, since a copy must be re-synced after every optimizer step and differs more from the learner.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessor, LogitsProcessorList

MISMATCH_METRICS = (
    "sampling/sampling_logp_difference/mean",
    "sampling/sampling_logp_difference/max",
    "sampling/importance_sampling_ratio/min",
    "sampling/importance_sampling_ratio/mean",
    "sampling/importance_sampling_ratio/max",
    "sampling/importance_sampling_ratio/std",
)


@dataclass
class MismatchArguments:
    """Sampler/learner mismatch corrections (off by default: the release corrected nothing)."""

    tis_cap: float | None = field(
        default=None,
        metadata={
            "help": "Truncated importance sampling (verl, FlashRL): weight each token's policy loss by "
            "min(exp(learner old log-prob - sampler log-prob), tis_cap); >= 1. null: off (release)."
        },
    )
    use_rho_correction: bool = field(
        default=False,
        metadata={
            "help": "open-instruct's rho correction: rho = exp(learner old log-prob - sampler log-prob), clamped to "
            "[rho_clamp_lower_bound, rho_clamp_upper_bound], tokens with rho outside [rho_mask_lower_bound, "
            "rho_mask_upper_bound] dropped from the policy loss (a bound of 0 disables that side). Off (release)."
        },
    )
    rho_clamp_lower_bound: float = field(default=0.0, metadata={"help": "Lower clamp of rho, <= 1 (0: none)."})
    rho_clamp_upper_bound: float = field(default=2.0, metadata={"help": "Upper clamp of rho, >= 1 (0: none)."})
    rho_mask_lower_bound: float = field(
        default=0.0, metadata={"help": "Tokens with rho below this are dropped, <= 1 (0: none)."}
    )
    rho_mask_upper_bound: float = field(
        default=0.0, metadata={"help": "Tokens with rho above this are dropped, >= 1 (0: none)."}
    )

    def __post_init__(self):
        check_correction_fields(self)  # first: TuluPPOConfig skips one ValueError of RLOOConfig's
        super().__post_init__()

    @property
    def corrects_mismatch(self) -> bool:
        return self.tis_cap is not None or self.use_rho_correction


def check_correction_fields(args: MismatchArguments) -> None:
    """ValueError naming the field for a range that would not be a correction (a clamp below 1, a negative bound)."""
    if args.corrects_mismatch and getattr(args, "use_vllm", False):
        raise ValueError(
            "tis_cap / use_rho_correction correct transformers sampling; with use_vllm use TRL's "
            "vllm_importance_sampling_correction"
        )
    if args.corrects_mismatch and getattr(args, "loss_type", None) == "vespo":
        raise ValueError("tis_cap / use_rho_correction do not combine with loss_type: vespo (it weighs tokens itself)")
    if args.tis_cap is not None and not args.tis_cap >= 1.0:
        raise ValueError(f"tis_cap must be >= 1 (a cap below 1 down-weights unbiased tokens), got {args.tis_cap}")
    for name in ("rho_clamp_lower_bound", "rho_clamp_upper_bound", "rho_mask_lower_bound", "rho_mask_upper_bound"):
        value = getattr(args, name)
        if not value >= 0.0:
            raise ValueError(f"{name} must be >= 0 (0 disables it), got {value}")
    for name in ("rho_clamp_lower_bound", "rho_mask_lower_bound"):
        if getattr(args, name) > 1.0:
            raise ValueError(f"{name} must be <= 1 (or rho = 1, no mismatch, would change), got {getattr(args, name)}")
    for name in ("rho_clamp_upper_bound", "rho_mask_upper_bound"):
        if 0.0 < getattr(args, name) < 1.0:
            raise ValueError(
                f"{name} must be >= 1 or 0 (or rho = 1, no mismatch, would change), got {args.__dict__[name]}"
            )


def correction_weights(
    old_logps: torch.Tensor,
    sampler_logps: torch.Tensor,
    mask: torch.Tensor,
    tis_cap: float | None = None,
    rho: tuple[float, float, float, float] | None = None,
) -> torch.Tensor:
    """Per-token weights of the policy loss, `(batch, tokens)`, detached. `rho` = (clamp lower, clamp upper, mask
    lower, mask upper), 0 disabling a bound. Padding (mask 0) gets weight 1 (it is masked out of the loss anyway)."""
    log_ratio = torch.nan_to_num((old_logps - sampler_logps).detach().float(), nan=0.0) * mask
    ratio = torch.exp(log_ratio)
    weights = torch.ones_like(ratio)
    if tis_cap is not None:
        weights = torch.clamp(ratio, max=tis_cap)
    if rho is not None:
        clamp_low, clamp_high, mask_low, mask_high = rho
        clamped = torch.clamp(ratio, min=clamp_low or None, max=clamp_high or None)
        keep = torch.ones_like(ratio, dtype=torch.bool)
        if mask_low:
            keep &= ratio >= mask_low
        if mask_high:
            keep &= ratio <= mask_high
        weights = weights * clamped * keep.to(ratio.dtype)
    return weights.to(old_logps.dtype)


def weights_for(args: MismatchArguments, old_logps, sampler_logps, mask) -> torch.Tensor | None:
    """The correction weights the config asks for, or None when no correction is on."""
    if not args.corrects_mismatch:
        return None
    rho = None
    if args.use_rho_correction:
        rho = (
            args.rho_clamp_lower_bound,
            args.rho_clamp_upper_bound,
            args.rho_mask_lower_bound,
            args.rho_mask_upper_bound,
        )
    return correction_weights(old_logps, sampler_logps, mask, args.tis_cap, rho)


def mismatch_stats(learner_logps: torch.Tensor, sampler_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[mean |Δ|, max |Δ|, ratio min, mean, max, std] over the masked tokens (Δ = learner − sampler log-prob), in
    the order of `MISMATCH_METRICS`; NaN when no token is masked in."""
    keep = mask.bool() & ~torch.isnan(sampler_logps)
    delta = (learner_logps.detach().float() - sampler_logps.float())[keep]
    if delta.numel() == 0:
        return torch.full((6,), float("nan"))
    ratio = torch.exp(delta)
    std = ratio.std(unbiased=False)
    return torch.stack([delta.abs().mean(), delta.abs().max(), ratio.min(), ratio.mean(), ratio.max(), std])


class SampledTokenLogprobs(LogitsProcessor):
    """A logits processor that records log p(sampled token) at the temperature, one step late: at step t the
    input ids end with the token sampled at t − 1, whose log-softmax row was kept from the call before."""

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature
        self.previous: torch.Tensor | None = None
        self.columns: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.previous is not None:
            self.columns.append(self.previous.gather(1, input_ids[:, -1:]).squeeze(1))
        self.previous = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def logprobs(self, sequences: torch.Tensor) -> torch.Tensor:
        """`(batch, generated tokens)` log-probs, given `generate`'s output sequences (prompt + completion)."""
        columns = list(self.columns)
        if self.previous is not None:
            columns.append(self.previous.gather(1, sequences[:, -1:]).squeeze(1))
        self.previous, self.columns = None, []
        if not columns:
            return torch.zeros(sequences.size(0), 0)
        return torch.stack(columns, dim=1)


@contextmanager
def recording_generate(model: torch.nn.Module, recorder: SampledTokenLogprobs):
    """Make `model.generate` pass `recorder` as an extra logits processor and keep its output sequences."""
    original = model.generate
    outputs: list[torch.Tensor] = []

    def generate(*args, **kwargs):
        processors = LogitsProcessorList(kwargs.pop("logits_processor", None) or [])
        processors.append(recorder)
        sequences = original(*args, logits_processor=processors, **kwargs)
        outputs.append(sequences if isinstance(sequences, torch.Tensor) else sequences.sequences)
        return sequences

    previous = model.__dict__.get("generate")
    model.generate = generate
    try:
        yield outputs
    finally:
        if previous is None:
            del model.generate  # the instance attribute: the class's method shows through again
        else:
            model.generate = previous


def pad_rows(rows: list[list[float]], width: int, device: torch.device | str) -> torch.Tensor:
    """Right-pad per-completion log-probs to `(len(rows), width)` with 0."""
    out = torch.zeros(len(rows), width, device=device)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row[:width], dtype=out.dtype)
    return out


class SamplerLogprobsMixin:
    """TRL generation (transformers `generate`) recording the sampler's log-probs.

    GRPO's `_generate_single_turn` returns `(completion_ids, logprobs)` and TRL carries the log-probs on as
    `sampling_per_token_logps`; RLOO's returns the ids alone, so the log-probs are also kept on `_sampler_logps`.
    """

    _sampler_logps: list[list[float]] | None = None

    def _generate_single_turn(self, prompt_ids, *args, **kwargs):
        self._sampler_logps = None
        if self.use_vllm or getattr(self, "use_transformers_continuous_batching", False):
            return super()._generate_single_turn(prompt_ids, *args, **kwargs)
        recorder = SampledTokenLogprobs(self.temperature)
        model = self.accelerator.unwrap_model(self.model_wrapped)
        with recording_generate(model, recorder) as outputs:
            result = super()._generate_single_turn(prompt_ids, *args, **kwargs)
        completion_ids = result[0] if isinstance(result, tuple) else result
        if outputs:
            logps = recorder.logprobs(outputs[-1]).cpu()
            self._sampler_logps = [logps[i, : len(ids)].tolist() for i, ids in enumerate(completion_ids)]
        if isinstance(result, tuple) and result[1] is None:
            return result[0], self._sampler_logps
        return result

    def _rollout_mismatch(self, old_logps: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor | None:
        """Log the mismatch between the learner's rollout log-probs and the sampler's; the correction weights, if
        a correction is on (PPO: its rollout computes the learner's old log-probs anyway)."""
        if self._sampler_logps is None:
            return None
        sampler = pad_rows(self._sampler_logps, old_logps.size(1), old_logps.device)
        self._log_mismatch(mismatch_stats(old_logps, sampler, mask), mode)
        return weights_for(self.args, old_logps, sampler, mask)

    def _log_mismatch(self, stats: torch.Tensor, mode: str) -> None:
        stats = self.accelerator.gather(stats.to(self.accelerator.device).unsqueeze(0)).nanmean(dim=0).tolist()
        for name, value in zip(MISMATCH_METRICS, stats, strict=True):
            self._metrics[mode][name].append(value)


class GRPOMismatchMixin(SamplerLogprobsMixin):
    """GRPO: log the mismatch at the first minibatch of each rollout batch; with a correction on, weigh the
    per-token policy loss by its weights. TRL's GRPO loss is -min(r·A, clip(r)·A) per token (or linear in A), so
    weights w >= 0 on the advantages are the same as on the loss, which TRL accepts as `(batch, tokens)`."""

    _pending_mismatch: tuple[torch.Tensor, torch.Tensor] | None = None

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        sampler = output.get("sampling_per_token_logps")
        if sampler is None or not self.args.corrects_mismatch:
            return output
        old = output.get("old_per_token_logps")
        if old is None:  # on-policy GRPO skips the learner's rollout forward; the weights need it
            ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
            attention = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
            with torch.no_grad():
                old, _, _ = self._get_per_token_logps_and_entropies(
                    self.model, ids, attention, output["completion_ids"].size(1), self.args.per_device_train_batch_size
                )
        output["sampler_weights"] = weights_for(self.args, old, sampler, output["completion_mask"])
        return output

    def _compute_loss(self, model, inputs):
        first = (self._step - 1) % (self.args.steps_per_generation * self.num_iterations) == 0
        if self.model.training and first and inputs.get("sampling_per_token_logps") is not None:
            self._pending_mismatch = (inputs["sampling_per_token_logps"], inputs["completion_mask"])
        weights = inputs.get("sampler_weights")
        if weights is not None:
            advantages = inputs["advantages"]
            advantages = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
            inputs = {**inputs, "advantages": advantages * weights}
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._pending_mismatch = None

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        result = super()._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
        )
        pending, self._pending_mismatch = self._pending_mismatch, None
        if pending is not None:  # the learner's forward of the loss: the weights have not moved yet
            self._log_mismatch(mismatch_stats(result[0], *pending), "train")
        return result


class RLOOMismatchMixin(SamplerLogprobsMixin):
    """RLOO: log the mismatch, with no correction. TRL's RLOO computes the learner's old log-probs in every rollout
    (before any update, so the same quantity GRPO logs at its first minibatch) and takes one ratio per sequence,
    so a per-token TIS or ρ weight has no place in its loss; the corrections stay GRPO and PPO fields."""

    _rollout_forward_pending = False

    def _generate_and_score_completions(self, inputs):
        self._rollout_forward_pending = True
        try:
            return super()._generate_and_score_completions(inputs)
        finally:
            self._rollout_forward_pending = False

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        result = super()._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
        )
        if self._rollout_forward_pending and model is self.model and self._sampler_logps is not None:
            self._rollout_forward_pending = False  # the policy's rollout forward; the reference's comes next
            mask = attention_mask[:, -logits_to_keep:]  # TRL's attention mask ends with the completion mask
            sampler = pad_rows(self._sampler_logps, logits_to_keep, result[0].device)
            self._log_mismatch(mismatch_stats(result[0], sampler, mask), "train" if model.training else "eval")
        return result
