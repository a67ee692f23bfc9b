"""PPO arithmetic against hand-computed numbers (tulu_recipes/trainers/ppo_math.py).

The tensors are fp32: comparisons use relative 1e-5 (torch.allclose's default rtol; FP32 below for approx).
"""

import math

import pytest
import torch

from tulu_recipes.trainers import ppo_math

FP32 = 1e-5  # relative tolerance of an fp32 result after a few operations


def test_token_rewards_put_kl_on_every_token_and_score_on_the_last():
    logps = torch.tensor([[-1.0, -2.0, -0.5, 0.0], [-1.0, -1.0, 0.0, 0.0]])
    ref = torch.tensor([[-1.5, -1.0, -0.5, -9.0], [-2.0, -1.0, -9.0, -9.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    rewards, kl = ppo_math.token_rewards(torch.tensor([10.0, -10.0]), logps, ref, mask, beta=0.1)
    # kl1 = logp - ref: row 0 -> 0.5, -1.0, 0.0 ; row 1 -> 1.0, 0.0
    assert torch.allclose(kl, torch.tensor([[0.5, -1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]))
    expected = torch.tensor([[-0.05, 0.1, 10.0, 0.0], [-0.1, -10.0, 0.0, 0.0]])
    assert torch.allclose(rewards, expected)


def test_gae_matches_a_hand_computed_example():
    # one row of 3 tokens then padding; gamma = 1, lambda = 0.95 (the paper's values)
    rewards = torch.tensor([[0.0, -0.1, 10.0, 0.0]])
    values = torch.tensor([[1.0, 2.0, 3.0, 99.0]])  # 99 is padding and must be ignored
    mask = torch.tensor([[1, 1, 1, 0]])
    adv, ret = ppo_math.gae(rewards, values, mask, gamma=1.0, lam=0.95)
    # deltas: d2 = 10 + 0 - 3 = 7 ; d1 = -0.1 + 3 - 2 = 0.9 ; d0 = 0 + 2 - 1 = 1
    a2 = 7.0
    a1 = 0.9 + 0.95 * a2  # 7.55
    a0 = 1.0 + 0.95 * a1  # 8.1725
    assert torch.allclose(adv, torch.tensor([[a0, a1, a2, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[a0 + 1.0, a1 + 2.0, a2 + 3.0, 0.0]]))


def test_gae_with_discount_and_rows_of_different_lengths():
    rewards = torch.tensor([[1.0, 2.0], [5.0, 0.0]])
    values = torch.tensor([[0.5, 0.25], [1.0, 7.0]])
    mask = torch.tensor([[1, 1], [1, 0]])
    adv, _ = ppo_math.gae(rewards, values, mask, gamma=0.5, lam=0.5)
    # row 0: d1 = 2 - 0.25 = 1.75 ; d0 = 1 + 0.5*0.25 - 0.5 = 0.625 ; a0 = 0.625 + 0.25*1.75 = 1.0625
    # row 1: only one token: d0 = 5 - 1 = 4 (the padded value 7 is not bootstrapped)
    assert torch.allclose(adv, torch.tensor([[1.0625, 1.75], [4.0, 0.0]]))


def test_whitening_uses_only_masked_entries():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 5.0, -50.0, 7.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    out = ppo_math.masked_whiten(x, mask)
    valid = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    expected = (valid - 3.0) / math.sqrt(2.5 + 1e-8)  # mean 3, unbiased variance 10/4 = 2.5
    assert torch.allclose(out[mask.bool()], expected)
    assert out[~mask.bool()].abs().sum() == 0
    kept = ppo_math.masked_whiten(x, mask, shift_mean=False)
    assert torch.allclose(kept[mask.bool()], expected + 3.0)


def test_value_loss_clipping_takes_the_worse_of_clipped_and_unclipped():
    old = torch.tensor([[0.0, 0.0, 0.0]])
    new = torch.tensor([[1.0, 1.0, 0.1]])
    returns = torch.tensor([[1.0, -1.0, 0.5]])
    mask = torch.ones(1, 3)
    loss, clip_frac = ppo_math.value_loss(new, old, returns, mask, clip=0.2)
    # token 0: unclipped (1-1)^2 = 0, clipped (0.2-1)^2 = 0.64 -> 0.64 (clipping holds the update back)
    # token 1: unclipped (1+1)^2 = 4, clipped (0.2+1)^2 = 1.44 -> 4
    # token 2: inside the clip range: (0.1-0.5)^2 = 0.16 both ways
    assert loss.item() == pytest.approx(0.5 * (0.64 + 4.0 + 0.16) / 3, rel=FP32)
    assert clip_frac.item() == pytest.approx(1 / 3, rel=FP32)


def test_policy_loss_clips_the_ratio():
    old = torch.zeros(1, 2)
    logps = torch.log(torch.tensor([[1.5, 0.5]]))  # ratios 1.5 and 0.5
    adv = torch.tensor([[1.0, 1.0]])
    loss, clip_frac = ppo_math.policy_loss(logps, old, adv, torch.ones(1, 2), clip=0.2)
    # token 0: max(-1.5, -1.2) = -1.2 ; token 1: max(-0.5, -0.8) = -0.5
    assert loss.item() == pytest.approx((-1.2 - 0.5) / 2, rel=FP32)
    assert clip_frac.item() == pytest.approx(0.5, rel=FP32)


def test_explained_variance():
    returns = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    mask = torch.ones(1, 4)
    assert ppo_math.explained_variance(returns, returns, mask).item() == pytest.approx(1.0, rel=FP32)
    assert ppo_math.explained_variance(torch.zeros_like(returns), returns, mask).item() == pytest.approx(0.0, abs=FP32)
