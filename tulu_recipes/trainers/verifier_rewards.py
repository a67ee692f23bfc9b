"""What every RLVR trainer (GRPO, RLOO, PPO) adds to TRL's reward path, in one mixin: the no-EOS penalty and the
verifier's reward per dataset.

TRL's `GRPOTrainer`/`RLOOTrainer` already take the verifiers as `reward_funcs` (trl-notes §2). Two things are
added here because TRL has neither:

- **No-EOS penalty** (`non_stop_penalty`, paper §6 / release `--non_stop_penalty`): a completion that does not
  end in an EOS token gets the penalty as its score instead of the verifier's. It replaces every reward
  function's score on that row (a row no function owns stays unscored), so with the usual single `verifiable`
  function the row's reward is exactly the penalty. `None` turns it off; Tülu 3.1 GRPO used 0.0 (Table 21).
- **Verifiable reward per dataset**: `verifier/<dataset>/reward` (mean weighted verifier score, before the
  penalty) and `verifier/<dataset>/accuracy` (share of rows with a positive score), routed on the `dataset`
  column, so GSM8K, MATH and IFEval progress can be told apart in one run.

The no-EOS rate itself is TRL's `completions/clipped_ratio` (share of completions whose last token is not EOS);
response length is `completions/mean_length`, the KL is `kl`. Why the verifier said no (no answer, hedge,
truncated, per dataset) and sampled verdicts for audit: `tulu_recipes.trainers.verifier_diagnostics`.
"""

from __future__ import annotations

import torch
from accelerate.utils import gather, gather_object

from tulu_recipes.trainers import verifier_diagnostics
from tulu_recipes.trainers.long_prompts import drop_long_prompts

NON_STOP_HELP = (
    "Score given to a completion that does not end in EOS, replacing the verifier's (paper: -10 for PPO, "
    "0.0 for Tülu 3.1 GRPO). `null` disables it."
)


def ends_with_eos(completion_ids: list[list[int]], eos_token_ids: list[int]) -> list[bool]:
    """Whether each completion's last token is one of the EOS ids (an empty completion does not)."""
    eos = set(eos_token_ids)
    return [bool(ids) and int(ids[-1]) in eos for ids in completion_ids]


def apply_non_stop_penalty(rewards_per_func: torch.Tensor, no_eos: torch.Tensor, penalty: float) -> torch.Tensor:
    """Replace every scored (non-NaN) entry of the rows without EOS by `penalty`; unscored entries stay NaN."""
    replace = no_eos.unsqueeze(1) & ~torch.isnan(rewards_per_func)
    return torch.where(replace, torch.full_like(rewards_per_func, penalty), rewards_per_func)


class VerifierRewardsMixin:
    """Adds the no-EOS penalty and per-dataset verifier metrics to a TRL trainer's `_calculate_rewards`, and drops
    prompts over `max_prompt_length` tokens once the trainer is built."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        drop_long_prompts(self)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._log_rewards_per_dataset(inputs, rewards_per_func)
        verifier_diagnostics.observe(self, inputs, prompts, completions, completion_ids_list, rewards_per_func)
        penalty = getattr(self.args, "non_stop_penalty", None)
        if penalty is not None:
            local = ends_with_eos(completion_ids_list, self.eos_token_ids)
            no_eos = ~gather(torch.tensor(local, dtype=torch.bool, device=rewards_per_func.device))
            rewards_per_func = apply_non_stop_penalty(rewards_per_func, no_eos, float(penalty))
        return rewards_per_func

    def _log_rewards_per_dataset(self, inputs, rewards_per_func: torch.Tensor) -> None:
        mode = "train" if self.model.training else "eval"
        datasets = gather_object([str(x.get("dataset", "all")) for x in inputs])
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        scored = ~torch.isnan(rewards_per_func).all(dim=1)
        total = (rewards_per_func * weights).nansum(dim=1)
        for name in sorted(set(datasets)):
            rows = torch.tensor([d == name for d in datasets], device=total.device) & scored
            if rows.any():
                self._metrics[mode][f"verifier/{name}/reward"].append(total[rows].mean().item())
                self._metrics[mode][f"verifier/{name}/accuracy"].append((total[rows] > 0).float().mean().item())
