"""A user reward function in TRL's contract that raises does not kill the run: its rows score None, counted."""

from __future__ import annotations

from rewards import load_reward
from rewards.guarded import GuardedReward


def test_trl_style_plugin_runs_as_written():
    reward = load_reward("_user_rewards:length_reward")
    assert isinstance(reward, GuardedReward) and reward.__name__ == "length_reward"
    assert reward(prompts=["p", "q"], completions=["abc", "de"]) == [3.0, 2.0]


def test_raising_rows_score_none_and_are_logged():
    reward = load_reward("_user_rewards:flaky_reward")
    logged = []
    scores = reward(
        prompts=["a", "b", "c", "d"],
        completions=["1", "2", "3", "4"],
        ground_truth=["1", "boom", "nan", "5"],
        log_metric=lambda k, v: logged.append((k, v)),
    )
    assert scores == [1.0, None, None, 0.0]
    assert logged == [("reward_errors/flaky_reward", 1.0)]
    assert reward.errors == 1


def test_function_that_always_raises_scores_nothing():
    reward = load_reward("_user_rewards:always_raises")
    assert reward(prompts=["a"] * 3, completions=["x"] * 3) == [None, None, None]
    assert reward.errors == 3
