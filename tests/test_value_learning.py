"""PPO value learning (VC-PPO / VAPO): decoupled and length-adaptive GAE against hand computations, value pretraining
on a fixed rollout set of the tiny model, the release defaults unchanged, and bad settings refused by field name."""

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from _shared import QUIET_CPU
from datasets import Dataset
from transformers import AutoTokenizer

from tulu_recipes.config import run_cli
from tulu_recipes.stages import rlvr
from tulu_recipes.trainers import ppo_math, value_pretraining
from tulu_recipes.trainers.decoupled_gae import advantages_and_returns, decoupled_gae, length_adaptive_lambda
from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer
from tulu_recipes.trainers.value_pretraining import ValuePretraining

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "recipes" / "quickstart"
TINY = QUICKSTART / "tiny-base"
RLVR = QUICKSTART / "data" / "rlvr.jsonl"
SCORES = [3.0, -2.0, 5.0, 0.0]  # the fixed rollout set's verifier scores, one per completion


# ----- decoupled / length-adaptive GAE: hand computations ------------------------------------------------------
REWARDS = torch.tensor([[0.0, -0.1, 10.0], [1.0, 2.0, 0.0]])
VALUES = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.25, 99.0]])  # 99: padding, never bootstrapped
MASK = torch.tensor([[1, 1, 1], [1, 1, 0]])


def test_decoupled_gae_equals_a_hand_computation():
    # gamma 1. deltas: row 0: d2 = 10 - 3 = 7, d1 = -0.1 + 3 - 2 = 0.9, d0 = 0 + 2 - 1 = 1
    #                  row 1: d1 = 2 - 0.25 = 1.75, d0 = 1 + 0.25 - 0.5 = 0.75
    adv, ret = decoupled_gae(REWARDS, VALUES, MASK, gamma=1.0, lam_policy=0.5, lam_critic=1.0)
    # policy, lambda 0.5: row 0: a1 = 0.9 + 0.5*7 = 4.4, a0 = 1 + 0.5*4.4 = 3.2 ; row 1: a0 = 0.75 + 0.5*1.75 = 1.625
    assert torch.allclose(adv, torch.tensor([[3.2, 4.4, 7.0], [1.625, 1.75, 0.0]]))
    # critic, lambda 1: the reward-to-go, whatever the values: row 0: 9.9, 9.9, 10 ; row 1: 3, 2
    assert torch.allclose(ret, torch.tensor([[9.9, 9.9, 10.0], [3.0, 2.0, 0.0]]))
    # the reverse split: policy lambda 1 gives A = reward-to-go - V, critic lambda 0 gives R = r + V_next
    adv, ret = decoupled_gae(REWARDS, VALUES, MASK, gamma=1.0, lam_policy=1.0, lam_critic=0.0)
    assert torch.allclose(adv, torch.tensor([[8.9, 7.9, 7.0], [2.5, 1.75, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[2.0, 2.9, 10.0], [1.25, 2.0, 0.0]]))


def test_length_adaptive_lambda_equals_a_hand_computation():
    # VAPO's alpha 0.05: l = 64 -> 1 - 1/3.2 = 0.6875 ; l = 100 -> 0.8 ; l = 10 -> 1 - 2 = -1, clipped to 0 ; empty -> 0
    lam = length_adaptive_lambda(torch.tensor([64, 100, 10, 0]), alpha=0.05)
    assert lam.tolist() == pytest.approx([0.6875, 0.8, 0.0, 0.0], abs=1e-6)
    # alpha 0.5 on the rows above (lengths 3 and 2): lambda 1/3 and 0, one per row
    config = SimpleNamespace(gamma=1.0, lam=0.95, lam_policy=None, lam_critic=1.0, lam_policy_alpha=0.5)
    adv, ret = advantages_and_returns(REWARDS, VALUES, MASK, MASK.sum(dim=1), config)
    # row 0: a1 = 0.9 + 7/3 = 3.23333, a0 = 1 + 3.23333/3 = 2.07778 ; row 1 (lambda 0): the deltas
    assert torch.allclose(adv, torch.tensor([[2.077778, 3.233333, 7.0], [0.75, 1.75, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[9.9, 9.9, 10.0], [3.0, 2.0, 0.0]]))
    # monte_carlo (value pretraining) forces critic lambda 1 even when lam_critic says otherwise
    config = SimpleNamespace(gamma=1.0, lam=0.95, lam_policy=None, lam_critic=0.0, lam_policy_alpha=None)
    _, ret = advantages_and_returns(REWARDS, VALUES, MASK, MASK.sum(dim=1), config, monte_carlo=True)
    assert torch.allclose(ret, torch.tensor([[9.9, 9.9, 10.0], [3.0, 2.0, 0.0]]))


def test_defaults_are_the_release_single_lambda_gae_bit_for_bit(tmp_path):
    cfg = TuluPPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, per_device_train_batch_size=2)
    assert (cfg.lam_policy, cfg.lam_critic, cfg.lam_policy_alpha, cfg.value_pretraining) == (None, None, None, False)
    generator = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(4, 9, generator=generator), torch.randn(4, 9, generator=generator)
    mask = (torch.arange(9) < torch.tensor([[9], [5], [1], [7]])).long()
    for lam in (0.95, 0.5):
        cfg.lam = lam
        adv, ret = advantages_and_returns(rewards, values, mask, mask.sum(dim=1), cfg)
        expected_adv, expected_ret = ppo_math.gae(rewards, values, mask, cfg.gamma, lam)
        assert torch.equal(adv, expected_adv) and torch.equal(ret, expected_ret)
        # the paper's values written out (lam_policy = lam_critic = lam) are the same single computation
        cfg.lam_policy = cfg.lam_critic = lam
        adv, ret = advantages_and_returns(rewards, values, mask, mask.sum(dim=1), cfg)
        assert torch.equal(adv, expected_adv) and torch.equal(ret, expected_ret)
        cfg.lam_policy = cfg.lam_critic = None


# ----- bad settings: exit 2 naming the field, before any model loads ---------------------------------------------
@pytest.mark.parametrize(
    "override, field",
    [
        ("--lam_critic=1.5", "lam_critic"),
        ("--lam_policy=-0.1", "lam_policy"),
        ("--value_pretrain_threshold=-0.2", "value_pretrain_threshold"),
        ("--lam_policy_alpha=0", "lam_policy_alpha"),
        ("--value_pretrain_max_rollouts=0", "value_pretrain_max_rollouts"),
        ("--value_pretrain_on_miss=retry", "value_pretrain_on_miss"),
    ],
)
def test_invalid_value_settings_exit_2_naming_the_field(tmp_path, capsys, override, field):
    recipe = tmp_path / "ppo.yaml"
    recipe.write_text(yaml.safe_dump({"algorithm": "ppo", "model_name_or_path": str(tmp_path / "no-model")}))
    with pytest.raises(SystemExit) as exit_info:
        run_cli(rlvr.main, [str(recipe), override, "--use_cpu", "true", "--bf16", "false"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err
    assert "no-model" not in err  # the field is refused before the (missing) model is looked at


# ----- value pretraining on a fixed rollout set of the tiny model ----------------------------------------------
def rows(n: int) -> Dataset:
    data = [json.loads(line) for line in RLVR.read_text().splitlines()[:n]]
    return Dataset.from_list(
        [{"prompt": r["messages"], "ground_truth": r["ground_truth"], "dataset": r["dataset"]} for r in data]
    )


def fixed_scores(completions, **kwargs):
    return SCORES[: len(completions)]


def make_trainer(tmp_path: Path, monkeypatch, **overrides) -> TuluPPOTrainer:
    args = dict(
        output_dir=str(tmp_path / "ppo"),
        value_pretraining=True,
        value_pretrain_threshold=0.9,
        value_pretrain_max_rollouts=8,
        value_pretrain_epochs=4,
        value_pretrain_learning_rate=1e-2,
        learning_rate=1e-3,
        per_device_train_batch_size=4,
        max_completion_length=5,
        max_steps=1,
        num_iterations=1,
        logging_steps=1,
        **QUIET_CPU,
    )
    args.update(overrides)
    tok = AutoTokenizer.from_pretrained(TINY)
    trainer = TuluPPOTrainer(
        model=str(TINY),
        reward_funcs=[fixed_scores],
        args=TuluPPOConfig(**args),
        train_dataset=rows(8),
        processing_class=tok,
    )
    words = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompts = [words(f"<|user|>\n{q}\n<|assistant|>\n") for q in ("2+2?", "What is 7 times 8?", "Hi", "Name a color")]
    completions = [words(t)[:4] + [tok.eos_token_id] for t in ("4 is it", "56", "hello there", "blue")]
    texts = [[{"role": "assistant", "content": tok.decode(c, skip_special_tokens=True)}] for c in completions]
    monkeypatch.setattr(trainer, "_generate", lambda batch: (prompts[: len(batch)], completions[: len(batch)], texts))
    return trainer


def test_pretraining_targets_are_monte_carlo_returns_and_leave_ppo_metrics_alone(
    tmp_path, monkeypatch, one_torch_thread
):
    trainer = make_trainer(tmp_path, monkeypatch, lam=0.5, lam_critic=0.3)
    batch = value_pretraining._rollout(trainer, list(rows(4)))
    # policy = reference before any update, so the KL reward is 0 and the lambda-1 return at every value position
    # (gamma 1) is the completion's score; lam 0.5 / lam_critic 0.3 would bootstrap from the random value head
    mask = batch["value_mask"].bool()
    expected = torch.tensor(SCORES)[:, None].expand_as(mask)[mask]
    assert torch.allclose(batch["returns"][mask], expected, rtol=0, atol=1e-5)  # fp32: V cancels up to rounding
    assert not trainer._monte_carlo_returns
    assert not trainer._metrics["train"] and not trainer._logs["prompt"]  # set aside, not mixed into PPO's logs


def test_value_pretraining_raises_explained_variance_above_its_threshold(tmp_path, monkeypatch, one_torch_thread):
    trainer = make_trainer(tmp_path, monkeypatch)
    policy = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    history = value_pretraining.pretrain_value_model(trainer)
    evs = [round(r.explained_variance, 3) for r in history]
    # measured on each (fixed) batch before fitting it: the random head explains nothing, fitting it does
    assert evs[0] < 0.5 and evs[-1] >= 0.9, evs
    assert all(r.value_loss is not None for r in history[:-1]) and history[-1].value_loss is None
    assert history[0].value_loss > history[-2].value_loss
    assert all(torch.equal(policy[k], v) for k, v in trainer.model.state_dict().items())  # the policy is frozen
    logged = [e for e in trainer.state.log_history if "value_pretrain/reached_threshold" in e]
    assert logged[-1]["value_pretrain/reached_threshold"] == 1.0
    assert logged[-1]["value_pretrain/rollouts"] == len(history)
    assert logged[-1]["value_pretrain/completions"] == 4 * len(history)


def test_pretraining_runs_before_the_first_policy_update_and_ppo_logs_value_metrics(
    tmp_path, monkeypatch, one_torch_thread
):
    trainer = make_trainer(tmp_path, monkeypatch, whiten_advantages=False)
    assert any(isinstance(cb, ValuePretraining) for cb in trainer.callback_handler.callbacks)
    trainer.train()
    log = trainer.state.log_history
    first_ppo = next(i for i, e in enumerate(log) if "policy_loss" in e)
    assert all(i < first_ppo for i, e in enumerate(log) if "value_pretrain/explained_variance" in e)
    ppo = log[first_ppo]
    # what the value model learned shows in PPO's first rollout, and every step logs the value metrics
    assert ppo["value/explained_variance"] >= 0.9
    for key in ("value/explained_variance", "value_loss", "value/mean_advantage"):
        assert ppo[key] is not None, key
    assert ppo["value/mean_advantage"] != 0.0  # not whitened here: the raw mean advantage


def test_defaults_add_no_pretraining(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, monkeypatch, value_pretraining=False)
    assert not any(isinstance(cb, ValuePretraining) for cb in trainer.callback_handler.callbacks)


def test_a_threshold_never_reached_says_so_and_continues(tmp_path, monkeypatch, caplog, one_torch_thread):
    trainer = make_trainer(tmp_path, monkeypatch, value_pretrain_threshold=1.0, value_pretrain_max_rollouts=2)
    with caplog.at_level(logging.WARNING, logger="tulu_recipes"):
        trainer.train()
    messages = [r.getMessage() for r in caplog.records if "value pretraining" in r.getMessage()]
    assert len(messages) == 1 and "did not reach value_pretrain_threshold=1.0" in messages[0], messages
    assert "2 rollouts" in messages[0] and "continuing with PPO" in messages[0]
    assert trainer.state.global_step == 1  # PPO ran after it


def test_a_threshold_never_reached_stops_when_asked(tmp_path, capsys):
    recipe = tmp_path / "ppo.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "algorithm": "ppo",
                "model_name_or_path": str(TINY),
                "dataset_mixer": [{"path": str(RLVR), "count": 8}],
                "reward_funcs": ["gsm8k"],
                "output_dir": str(tmp_path / "out"),
                "per_device_train_batch_size": 2,
                "max_completion_length": 4,
                "max_steps": 1,
                "use_cpu": True,
                "bf16": False,
                "report_to": "none",
                "save_strategy": "no",
                "disable_tqdm": True,
                "value_pretraining": True,
                "value_pretrain_threshold": 1.0,
                "value_pretrain_max_rollouts": 1,
                "value_pretrain_on_miss": "stop",
            }
        )
    )
    with pytest.raises(SystemExit) as exit_info:
        run_cli(rlvr.main, [str(recipe)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "did not reach value_pretrain_threshold=1.0" in err and "stopping (value_pretrain_on_miss: stop)" in err
    assert not (tmp_path / "out" / "model.safetensors").exists()  # nothing saved
