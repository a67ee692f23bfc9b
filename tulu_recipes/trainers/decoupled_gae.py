"""Decoupled and length-adaptive GAE (VC-PPO arXiv 2503.01491, VAPO arXiv 2504.05118) over `ppo_math.gae`.

- **Decoupled GAE**: the policy's advantages use λ_policy and the value model's targets use λ_critic. With
  λ_critic = 1 the targets are the Monte-Carlo reward-to-go, so a value model that is still wrong cannot bias its
  own targets by bootstrapping (VC-PPO's reward-signal decay).
- **Length-adaptive λ** (VAPO): λ_policy = 1 − 1/(α·l) for a response of l tokens, so the sum of λ's powers over
  the response, 1/(1 − λ) = α·l, grows with its length. Clipped to [0, 1]: a response shorter than 1/α tokens gets
  λ = 0 (one-step TD).

With λ_policy = λ_critic (both `lam`, the default) this is one `ppo_math.gae` call: the release's computation.
Written here because TRL has no GAE (trl-notes §1).
"""

from __future__ import annotations

from typing import Any

import torch

from tulu_recipes.trainers import ppo_math


def length_adaptive_lambda(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """Per-row λ = 1 − 1/(α·l), clipped to [0, 1]; an empty row (l = 0) gets 0."""
    scaled = alpha * lengths.float()
    lam = torch.where(scaled > 0, 1.0 - 1.0 / scaled.clamp(min=1e-12), torch.zeros_like(scaled))
    return lam.clamp(min=0.0, max=1.0)


def policy_lambda(args: Any, lengths: torch.Tensor) -> float | torch.Tensor:
    """λ of the advantages: length-adaptive (a `(batch,)` tensor) if `lam_policy_alpha`, else `lam_policy` or `lam`."""
    if args.lam_policy_alpha is not None:
        return length_adaptive_lambda(lengths, args.lam_policy_alpha)
    return args.lam if args.lam_policy is None else args.lam_policy


def critic_lambda(args: Any, monte_carlo: bool = False) -> float:
    """λ of the value targets: 1 when `monte_carlo` (value pretraining), else `lam_critic` or `lam`."""
    if monte_carlo:
        return 1.0
    return args.lam if args.lam_critic is None else args.lam_critic


def decoupled_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float,
    lam_policy: float | torch.Tensor,
    lam_critic: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(advantages with λ_policy, returns with λ_critic)`; `lam_policy` may be one λ per row."""
    advantages, returns = ppo_math.gae(rewards, values, mask, gamma, lam_policy)
    if isinstance(lam_policy, float | int) and float(lam_policy) == float(lam_critic):
        return advantages, returns
    _, returns = ppo_math.gae(rewards, values, mask, gamma, lam_critic)
    return advantages, returns


def advantages_and_returns(
    rewards: torch.Tensor,
    values: torch.Tensor,
    value_mask: torch.Tensor,
    lengths: torch.Tensor,
    args: Any,
    monte_carlo: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE as the config asks (`lam`, `lam_policy`, `lam_critic`, `lam_policy_alpha`); `lengths` are response
    lengths in tokens (for the length-adaptive λ)."""
    lam_policy = policy_lambda(args, lengths)
    if isinstance(lam_policy, torch.Tensor):
        lam_policy = lam_policy.to(device=values.device, dtype=values.dtype)
    return decoupled_gae(rewards, values, value_mask, args.gamma, lam_policy, critic_lambda(args, monte_carlo))
