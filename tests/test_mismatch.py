"""Sampler/learner mismatch: the recorded sampler log-probs, the logged statistics, TIS and the rho clamp/mask."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from tulu_recipes.config import run_cli
from tulu_recipes.trainers import ppo_math
from tulu_recipes.trainers.mismatch import (
    SampledTokenLogprobs,
    correction_weights,
    mismatch_stats,
    recording_generate,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "quickstart" / "tiny-base"
RLVR = ROOT / "recipes" / "quickstart" / "data" / "rlvr.jsonl"

# learner old probabilities and the sampler's, for three tokens: ratios 2, 0.5 and 3
OLD = torch.log(torch.tensor([[0.5, 0.2, 0.9]]))
SAMPLER = torch.log(torch.tensor([[0.25, 0.4, 0.3]]))
MASK = torch.ones(1, 3)
ADVANTAGES = torch.tensor([[1.0, -1.0, 2.0]])


def test_the_correction_is_exactly_a_no_op_when_the_sampler_is_the_learner():
    torch.manual_seed(0)
    old = torch.randn(4, 7) - 2.0
    logps = old + 0.05 * torch.randn(4, 7)
    advantages, mask = torch.randn(4, 7), (torch.rand(4, 7) > 0.2).float()
    plain, _ = ppo_math.policy_loss(logps, old, advantages, mask)
    for weights in (
        correction_weights(old, old.clone(), mask, tis_cap=1.0),
        correction_weights(old, old.clone(), mask, tis_cap=2.0),
        correction_weights(old, old.clone(), mask, rho=(0.5, 2.0, 0.8, 1.25)),
        correction_weights(old, old.clone(), mask, tis_cap=3.0, rho=(0.0, 2.0, 0.0, 0.0)),
    ):
        assert torch.equal(weights, torch.ones_like(old))
        corrected, _ = ppo_math.policy_loss(logps, old, advantages, mask, weights=weights)
        assert torch.equal(corrected, plain)  # bit for bit


def test_truncated_importance_sampling_matches_a_hand_computation():
    weights = correction_weights(OLD, SAMPLER, MASK, tis_cap=2.5)
    assert weights.tolist()[0] == pytest.approx([2.0, 0.5, 2.5], rel=1e-6)
    # learner = old (first minibatch): ratio 1, per-token loss -A, weighted: -2, +0.5, -5 -> mean -6.5 / 3
    loss, _ = ppo_math.policy_loss(OLD, OLD, ADVANTAGES, MASK, weights=weights)
    assert loss.item() == pytest.approx(-6.5 / 3, rel=1e-6)


def test_rho_clamp_and_mask_match_a_hand_computation():
    # clamp to [0, 2] -> 2, 0.5, 2; the mask drops rho below 0.6 (the second token) -> 2, 0, 2
    weights = correction_weights(OLD, SAMPLER, MASK, rho=(0.0, 2.0, 0.6, 0.0))
    assert weights.tolist()[0] == pytest.approx([2.0, 0.0, 2.0], rel=1e-6)
    # an upper mask at 2.5 drops the third token too; a lower clamp at 0.8 lifts nothing that is kept
    weights = correction_weights(OLD, SAMPLER, MASK, rho=(0.8, 2.0, 0.0, 2.5))
    assert weights.tolist()[0] == pytest.approx([2.0, 0.8, 0.0], rel=1e-6)
    loss, _ = ppo_math.policy_loss(OLD, OLD, ADVANTAGES, MASK, weights=weights)
    assert loss.item() == pytest.approx((-2.0 + 0.8 + 0.0) / 3, rel=1e-6)


def test_mismatch_statistics_match_a_hand_computation():
    stats = mismatch_stats(OLD, SAMPLER, MASK).tolist()
    mean_abs = (2 * math.log(2) + math.log(3)) / 3
    ratios = [2.0, 0.5, 3.0]
    mean = sum(ratios) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in ratios) / 3)
    assert stats == pytest.approx([mean_abs, math.log(3), 0.5, mean, 3.0, std], rel=1e-5)
    # padding does not count
    stats = mismatch_stats(OLD, SAMPLER, torch.tensor([[1.0, 1.0, 0.0]])).tolist()
    assert stats[:2] == pytest.approx([math.log(2), math.log(2)], rel=1e-5)


def test_recorded_sampler_logprobs_equal_the_models_own_forward():
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(TINY, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(TINY)
    prompt = tokenizer(["what is 2+2?", "hi"], return_tensors="pt", padding=True, padding_side="left")
    recorder = SampledTokenLogprobs(temperature=0.7)
    with torch.no_grad(), recording_generate(model, recorder) as outputs:
        sequences = model.generate(
            **prompt,
            max_new_tokens=6,  # no min_new_tokens: it masks EOS before the recorder sees the scores
            do_sample=True,
            temperature=0.7,
            top_k=0,
            pad_token_id=tokenizer.pad_token_id,
        )
    assert "generate" not in model.__dict__  # the class's generate again
    assert torch.equal(outputs[0], sequences)
    recorded = recorder.logprobs(sequences)
    assert recorded.shape == (2, 6)
    with torch.no_grad():
        attention = torch.cat([prompt.attention_mask, torch.ones(2, 6, dtype=torch.long)], dim=1)
        logits = model(input_ids=sequences, attention_mask=attention).logits[:, -7:-1] / 0.7
    expected = torch.log_softmax(logits, dim=-1).gather(2, sequences[:, -6:, None]).squeeze(2)
    torch.testing.assert_close(recorded, expected, atol=1e-4, rtol=0)


def rlvr_recipe(tmp_path: Path, **fields) -> str:
    recipe = {
        "algorithm": "ppo",
        "model_name_or_path": str(TINY),
        "dataset_mixer": [{"path": str(RLVR), "count": 8}],
        "reward_funcs": ["gsm8k"],
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "report_to": "none",
    }
    recipe.update(fields)
    path = tmp_path / "rlvr.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "algorithm, field, value",
    [
        ("ppo", "tis_cap", 0.5),
        ("grpo", "tis_cap", 0.99),
        ("ppo", "rho_clamp_upper_bound", 0.5),
        ("grpo", "rho_mask_lower_bound", -0.1),
        ("ppo", "rho_clamp_lower_bound", 1.5),
    ],
)
def test_an_invalid_correction_range_exits_2_naming_the_field(tmp_path, capsys, algorithm, field, value):
    from tulu_recipes.stages import rlvr

    path = rlvr_recipe(tmp_path, algorithm=algorithm, use_rho_correction=True, **{field: value})
    with pytest.raises(SystemExit) as exit_info:
        run_cli(rlvr.main, [path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert field in err and len(err.splitlines()) == 1, err


def test_rloo_logs_a_planted_sampler_mismatch_as_computed_by_hand(tmp_path, monkeypatch, one_torch_thread):
    """fp32 sampler = fp32 learner, then every recorded sampler log-prob lowered by 0.25: RLOO's rollout must log
    mean |Δ log p| = max = 0.25 and a ratio exp(0.25) on every completion token, no spread (to within the tiny model's
    own fp32 difference between cached decoding and one full forward, ~1e-3)."""
    import json

    from datasets import Dataset

    from tulu_recipes.trainers.grpo_rloo import TuluRLOOConfig, TuluRLOOTrainer

    recorded = SampledTokenLogprobs.logprobs
    monkeypatch.setattr(SampledTokenLogprobs, "logprobs", lambda self, seq: recorded(self, seq) - 0.25)
    data = [json.loads(line) for line in RLVR.read_text().splitlines()[:4]]
    dataset = Dataset.from_list([{"prompt": r["messages"], "ground_truth": r["ground_truth"]} for r in data])
    config = TuluRLOOConfig(
        output_dir=str(tmp_path / "rloo"), num_generations=2, per_device_train_batch_size=4, max_completion_length=5,
        max_steps=1, beta=0.0, use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True,
        logging_steps=1, seed=0,
    )  # fmt: skip
    trainer = TuluRLOOTrainer(
        model=str(TINY), reward_funcs=[lambda completions, **kw: [float(i % 2) for i in range(len(completions))]],
        args=config, train_dataset=dataset, processing_class=AutoTokenizer.from_pretrained(TINY),
    )  # fmt: skip
    trainer.train()
    (logged,) = [h for h in trainer.state.log_history if "sampling/sampling_logp_difference/mean" in h]
    assert logged["sampling/sampling_logp_difference/mean"] == pytest.approx(0.25, abs=2e-3)
    assert logged["sampling/sampling_logp_difference/max"] == pytest.approx(0.25, abs=2e-3)
    for name in ("min", "mean", "max"):
        assert logged[f"sampling/importance_sampling_ratio/{name}"] == pytest.approx(math.exp(0.25), abs=3e-3)
    assert logged["sampling/importance_sampling_ratio/std"] == pytest.approx(0.0, abs=2e-3)
