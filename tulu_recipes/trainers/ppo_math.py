"""The arithmetic of Tülu 3 PPO (paper §6; open-instruct `ppo_vllm_thread_ray_gtrl.py`) as small pure functions.

TRL 1.16 has no PPO, no value model and no GAE anywhere (trl-notes §1), so these are written here. Every tensor
is `(batch, completion_tokens)` with a 0/1 `mask` marking real completion tokens (right padding); positions
outside the mask never influence a result.

- `token_rewards`: r_t = -β·(log π_old(y_t) − log π_ref(y_t))  (estimator kl1), plus the sequence score added
  at the last real token.
- `gae`: A_t = δ_t + γλ·A_{t+1}, δ_t = r_t + γ·V_{t+1} − V_t, V = 0 after the last token; returns = A + V.
- `masked_whiten`: (x − mean) / sqrt(var + 1e-8) over the masked entries (mean added back with shift_mean=False).
- `policy_loss`: token mean of max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)), ρ = exp(log π − log π_old).
- `value_loss`: 0.5 · token mean of max((V − R)², (clip(V, V_old ± c) − R)²).
- `explained_variance`: 1 − Var(R − V) / Var(R).
"""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `values` where `mask` is 1 (0 when the mask is empty)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def masked_var(values: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of the masked entries (Bessel-corrected by default, as open-instruct does)."""
    mask = mask.to(values.dtype)
    mean = masked_mean(values, mask)
    centered_sq = ((values - mean) ** 2) * mask
    count = mask.sum()
    if unbiased:
        return centered_sq.sum() / (count - 1).clamp(min=1.0)
    return centered_sq.sum() / count.clamp(min=1.0)


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Normalize the masked entries to unit variance (and zero mean if `shift_mean`); others become 0."""
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask.to(values.dtype)


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last 1 in each row of a right-padded mask (0 for an empty row)."""
    positions = torch.arange(mask.size(1), device=mask.device).expand_as(mask)
    return (positions * mask.long()).amax(dim=1)


def token_rewards(
    scores: torch.Tensor,
    logps: torch.Tensor,
    ref_logps: torch.Tensor | None,
    mask: torch.Tensor,
    beta: float,
    score_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards: −β·kl1 on every token of `mask`, plus the sequence score at the last 1 of `score_mask`
    (default `mask`; the release's score one past EOS is a `score_mask` reaching one position further).

    Returns `(rewards, kl)` where `kl` is the per-token kl1 estimate log π_old − log π_ref (0 without a reference).
    """
    score_mask = mask if score_mask is None else score_mask
    mask_f = mask.to(logps.dtype)
    kl = (logps - ref_logps) * mask_f if ref_logps is not None else torch.zeros_like(logps)
    rewards = -beta * kl
    rows = torch.arange(rewards.size(0), device=rewards.device)
    has_tokens = score_mask.sum(dim=1) > 0
    last = last_token_index(score_mask)
    rewards[rows[has_tokens], last[has_tokens]] += scores[has_tokens].to(rewards.dtype)
    return rewards * torch.maximum(mask_f, score_mask.to(logps.dtype)), kl


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    gamma: float = 1.0,
    lam: float | torch.Tensor = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation over right-padded completions (`lam`: one λ, or one per row).
    Returns `(advantages, returns)`."""
    mask_f = mask.to(values.dtype)
    rewards, values = rewards * mask_f, values * mask_f
    advantages = torch.zeros_like(values)
    next_value = torch.zeros_like(values[:, 0])
    running = torch.zeros_like(values[:, 0])
    for t in reversed(range(values.size(1))):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        # padding after the end of a row: keep the recursion at zero so the last real token sees V_{T} = 0
        running = running * mask_f[:, t]
        advantages[:, t] = running
        next_value = values[:, t]
    returns = advantages + values
    return advantages * mask_f, returns * mask_f


def policy_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped PPO surrogate, token mean; `weights` (the sampler-mismatch correction, `trainers.mismatch`) scale
    each token's term. Returns `(loss, fraction of tokens where clipping was active)`."""
    ratio = torch.exp(logps - old_logps)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    per_token = torch.maximum(unclipped, clipped)
    if weights is not None:
        per_token = per_token * weights
    loss = masked_mean(per_token, mask)
    clip_frac = masked_mean((clipped > unclipped).to(logps.dtype), mask)
    return loss, clip_frac


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped value loss, 0.5 × token mean. Returns `(loss, fraction of tokens where the clipped term won)`."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)
    unclipped_err = (values - returns) ** 2
    clipped_err = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(unclipped_err, clipped_err), mask)
    clip_frac = masked_mean((clipped_err > unclipped_err).to(values.dtype), mask)
    return loss, clip_frac


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 − Var(returns − values) / Var(returns) over the masked tokens (NaN when the returns are constant)."""
    var_returns = masked_var(returns, mask)
    if var_returns <= 0:
        return torch.tensor(float("nan"), device=values.device)
    return 1.0 - masked_var(returns - values, mask) / var_returns
