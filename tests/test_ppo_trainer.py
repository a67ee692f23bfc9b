"""TuluPPOTrainer on the tiny offline model: value model from a reward model, no-EOS penalty, a few PPO steps."""

import json
from pathlib import Path

import pytest
import torch
from _shared import QUIET_CPU
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer, per_token_values
from tulu_recipes.trainers.verifier_rewards import apply_non_stop_penalty, ends_with_eos

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "quickstart" / "tiny-base"
RLVR = ROOT / "recipes" / "quickstart" / "data" / "rlvr.jsonl"


@pytest.fixture(scope="module")
def reward_model_dir(tmp_path_factory) -> Path:
    """A 1-label classifier built from the tiny base, with a non-trivial score head."""
    out = tmp_path_factory.mktemp("rm")
    torch.manual_seed(0)
    rm = AutoModelForSequenceClassification.from_pretrained(TINY, num_labels=1)
    torch.nn.init.normal_(rm.score.weight, std=0.5)
    rm.save_pretrained(out)
    AutoTokenizer.from_pretrained(TINY).save_pretrained(out)
    return out


def rlvr_rows(n: int) -> Dataset:
    rows = [json.loads(line) for line in RLVR.read_text().splitlines()[:n]]
    return Dataset.from_list(
        [{"prompt": r["messages"], "ground_truth": r["ground_truth"], "dataset": r["dataset"]} for r in rows]
    )


def always_one(completions, **kwargs):
    return [1.0] * len(completions)


def make_trainer(tmp_path: Path, value_model_path: str | None, **overrides) -> TuluPPOTrainer:
    args = dict(
        output_dir=str(tmp_path / "ppo"),
        value_model_path=value_model_path,
        learning_rate=1e-3,
        per_device_train_batch_size=6,
        max_completion_length=6,
        max_steps=4,
        num_iterations=2,
        logging_steps=2,
        **QUIET_CPU,
    )
    args.update(overrides)
    tokenizer = AutoTokenizer.from_pretrained(TINY)
    return TuluPPOTrainer(
        model=str(TINY),
        reward_funcs=[always_one],
        args=TuluPPOConfig(**args),
        train_dataset=rlvr_rows(16),
        processing_class=tokenizer,
    )


def test_config_allows_one_sample_per_prompt_and_has_paper_defaults(tmp_path):
    cfg = TuluPPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, per_device_train_batch_size=3)
    assert (cfg.num_generations, cfg.generation_batch_size, cfg.num_iterations) == (1, 3, 4)
    assert (cfg.beta, cfg.gamma, cfg.lam, cfg.vf_coef, cfg.cliprange_value, cfg.epsilon) == (
        0.05,
        1.0,
        0.95,
        0.1,
        0.2,
        0.2,
    )
    assert cfg.non_stop_penalty == -10.0 and cfg.learning_rate == 3e-7 and cfg.disable_dropout
    with pytest.raises(ValueError, match="gamma"):
        TuluPPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, gamma=1.5)


def test_value_head_starts_as_the_reward_model(tmp_path, reward_model_dir):
    trainer = make_trainer(tmp_path, str(reward_model_dir))
    rm = AutoModelForSequenceClassification.from_pretrained(reward_model_dir, num_labels=1).eval()
    tok = AutoTokenizer.from_pretrained(TINY)
    ids = tok("Mia has 4 shells and finds 12 more. The answer is 16.", add_special_tokens=False, return_tensors="pt")
    ids = ids["input_ids"]
    with torch.no_grad():
        values = per_token_values(trainer.value_model.eval(), ids, torch.ones_like(ids))[0]
        rm_prefix_scores = torch.stack([rm(input_ids=ids[:, : t + 1]).logits[0, 0] for t in range(ids.size(1))])
    assert values.shape == (ids.size(1),)
    # fp32, and each prefix is a forward pass of another length (other kernel paths): 1e-4 against scores whose
    # spread is > 0.01, so a value head that is not the reward model's fails.
    assert torch.allclose(values, rm_prefix_scores, rtol=1e-4, atol=1e-4)
    assert rm_prefix_scores.std() > 0.01  # a head that gives different scores, so equality means something

    # in a right-padded batch the value at each row's last real token is the RM's score of that row
    short = ids[:, :5]
    batch = torch.full((2, ids.size(1)), tok.pad_token_id)
    batch[0], batch[1, :5] = ids[0], short[0]
    mask = (torch.arange(ids.size(1)) < torch.tensor([[ids.size(1)], [5]])).long()
    with torch.no_grad():
        values = per_token_values(trainer.value_model, batch, mask)
        scores = rm(input_ids=batch, attention_mask=mask).logits[:, 0]
    assert torch.allclose(torch.stack([values[0, -1], values[1, 4]]), scores, rtol=1e-4, atol=1e-4)


def test_value_model_defaults_to_the_policy_with_a_new_head(tmp_path):
    trainer = make_trainer(tmp_path, None, max_steps=1)
    policy_embed = trainer.model.get_input_embeddings().weight
    assert torch.equal(trainer.value_model.get_input_embeddings().weight, policy_embed)
    assert trainer.value_model.score.out_features == 1


def test_non_stop_penalty_replaces_scores_of_rows_without_eos():
    assert ends_with_eos([[5, 1], [5, 6], []], eos_token_ids=[1]) == [True, False, False]
    scores = torch.tensor([[10.0, float("nan")], [0.0, 3.0], [float("nan"), float("nan")]])
    out = apply_non_stop_penalty(scores, torch.tensor([False, True, True]), -10.0)
    assert out[0, 0] == 10.0 and torch.isnan(out[0, 1])
    assert out[1].tolist() == [-10.0, -10.0]
    assert torch.isnan(out[2]).all()  # a row no verifier owns stays unscored


def test_ppo_steps_train_policy_and_value_and_log(tmp_path, reward_model_dir):
    trainer = make_trainer(tmp_path, str(reward_model_dir))
    policy_before = trainer.model.get_input_embeddings().weight.detach().clone()
    value_before = trainer.value_model.score.weight.detach().clone()
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "value_loss" in entry]
    assert len(logs) == 2 and trainer.state.global_step == 4  # 2 rollouts x 2 PPO epochs
    for entry in logs:
        # reward 1 for a completion that ends in EOS, the -10 penalty for one that does not
        assert entry["reward"] == pytest.approx(1.0 - 11.0 * entry["completions/clipped_ratio"], abs=1e-4)
        for key in (
            "kl",
            "value/explained_variance",
            "policy_loss",
            "entropy",
            "verifier/gsm8k/reward",
            "completions/mean_length",
            "value/grad_norm",
        ):
            assert key in entry and entry[key] is not None, key
        assert entry["value_loss"] > 0
    assert logs[0]["kl"] == 0.0 and logs[1]["kl"] != 0.0  # the policy leaves the reference after the first update
    # the value head trains with its own optimizer group at the policy LR (one AdamW, two parameter sets)
    assert len(trainer.optimizer.param_groups) == 3
    assert trainer.optimizer.param_groups[-1]["initial_lr"] == pytest.approx(1e-3)
    assert not torch.equal(trainer.value_model.score.weight, value_before)
    assert not torch.equal(trainer.model.get_input_embeddings().weight, policy_before)
    trainer.save_model()
    saved = AutoModelForSequenceClassification.from_pretrained(tmp_path / "ppo" / "value_model")
    assert torch.allclose(saved.score.weight, trainer.value_model.score.weight)


def test_release_prompt_limit_schedule_horizon_and_weight_decay(tmp_path):
    """Prompts over `max_prompt_length` tokens are dropped; `lr_schedule_steps` is the linear decay's horizon (the
    release's 10M-episode one); weight decay 0.01 reaches every parameter, norms included (torch AdamW's default)."""
    tok = AutoTokenizer.from_pretrained(TINY)
    prompts = rlvr_rows(16)["prompt"]
    lengths = [
        len(tok.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])
        for p in prompts
    ]
    limit = sorted(lengths)[8]
    kept = sum(n <= limit for n in lengths)
    assert 0 < kept < 16  # the limit really drops some prompts
    trainer = make_trainer(
        tmp_path, None, max_steps=4, max_prompt_length=limit, lr_scheduler_type="linear", lr_schedule_steps=400
    )
    assert len(trainer.train_dataset) == kept
    assert all(n <= limit for n in (lengths[i] for i, p in enumerate(prompts) if p in trainer.train_dataset["prompt"]))
    optimizer = trainer.create_optimizer()
    scheduler = trainer.create_scheduler(num_training_steps=4, optimizer=optimizer)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(1e-3 * (1 - 4 / 400))  # not 0, as a 4-step decay would give
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] == pytest.approx(0.01) for p in g["params"]}
    assert all(id(p) in decayed for p in trainer.model.parameters())
    assert all(id(p) in decayed for p in trainer.value_model.parameters())
    with pytest.raises(ValueError, match="score_position"):
        TuluPPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, score_position="eos+1")


def test_bf16_ppo_recipe_moves_policy_and_value_parameters_at_lr_3e7(tmp_path, reward_model_dir, one_torch_thread):
    """`dtype: bfloat16` + `bf16: true`: policy and value model train fp32 weights under bf16 autocast, so two
    steps at the paper's 3e-7 move (nearly) every parameter instead of losing the updates to bf16 rounding."""
    import yaml
    from safetensors.torch import load_file

    from tulu_recipes.stages import rlvr

    out = tmp_path / "ppo"
    recipe = {
        "algorithm": "ppo",
        "model_name_or_path": str(TINY),
        "value_model_path": str(reward_model_dir),
        "dataset_mixer": [{"path": str(RLVR), "count": 16}],
        "reward_funcs": ["gsm8k"],
        "output_dir": str(out),
        "dtype": "bfloat16",
        "bf16": True,
        "learning_rate": 3e-7,
        "lr_scheduler_type": "constant",
        "per_device_train_batch_size": 8,
        "max_completion_length": 8,
        "max_steps": 2,
        "num_iterations": 1,
        "use_cpu": True,
        "gradient_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
    }
    path = tmp_path / "ppo.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    trainer = rlvr.main([str(path)])
    assert {p.dtype for p in trainer.value_model.parameters()} == {torch.float32}
    assert trainer.accelerator.mixed_precision == "bf16"

    def moved(trained: dict, start: dict, skip: str = "") -> float:
        common = [k for k in start if k in trained and not (skip and skip in k)]
        changed = sum((trained[k] != start[k]).sum().item() for k in common)
        return changed / sum(start[k].numel() for k in common)

    policy_end = load_file(out / "model.safetensors")
    assert {t.dtype for t in policy_end.values()} == {torch.float32}  # not bf16 weights that merely round differently
    policy = moved(policy_end, load_file(TINY / "model.safetensors"))
    value_start = load_file(reward_model_dir / "model.safetensors")
    value_end = load_file(out / "value_model" / "model.safetensors")
    assert {t.dtype for t in value_end.values()} == {torch.float32}
    value, value_body = moved(value_end, value_start), moved(value_end, value_start, skip="embed_tokens")
    assert policy >= 0.99, policy
    # the value model has no LM head: embedding rows of tokens that no rollout contains get no gradient at all
    assert value_body >= 0.99 and value >= 0.9, (value_body, value)
