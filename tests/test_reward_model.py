"""Reward-model stage: trains on the quickstart pairs and saves a 1-label classifier the RLVR stage can load."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from tulu_recipes.stages import reward_model as rm_stage
from tulu_recipes.trainers.reward_model import TuluRewardConfig, init_score_head

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_defaults_are_the_papers():
    args = TuluRewardConfig(output_dir="unused", use_cpu=True, bf16=False)
    assert (args.learning_rate, args.lr_scheduler_type, args.num_train_epochs, args.max_length) == (
        3e-6,
        "linear",
        1.0,
        2048,
    )
    # The release's optimizer: torch AdamW(eps=1e-5) with its default weight decay 0.01; its re-drawn head.
    assert (args.adam_epsilon, args.weight_decay, args.init_score_head) == (1e-5, 0.01, True)


class WideHead(torch.nn.Module):
    """Only what `init_score_head` reads: `config.hidden_size` and a `score` head, here a wide one."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.config = type("Config", (), {"hidden_size": hidden_size})()
        self.score = torch.nn.Linear(hidden_size, 4, bias=True)


def test_head_init_is_the_releases_std_and_deterministic_in_the_seed():
    model = WideHead(16383)  # 4 x 16383 draws: the sample std is within ~0.3% of the target
    std = init_score_head(model, seed=1)
    weights = model.score.weight.detach().clone()
    assert std == pytest.approx(1 / 128)
    assert weights.std().item() == pytest.approx(1 / 128, rel=0.02)
    assert abs(weights.mean().item()) < 3 * (1 / 128) / weights.numel() ** 0.5
    assert torch.count_nonzero(model.score.bias) == 0
    torch.manual_seed(0)  # the global RNG does not matter, only the seed passed
    init_score_head(model, seed=1)
    assert torch.equal(model.score.weight, weights)
    init_score_head(model, seed=2)
    assert not torch.allclose(model.score.weight, weights)


def test_stage_draws_the_head_from_the_seed(tmp_path, tiny_base, quickstart_dir):
    recipe = tmp_path / "rm.yaml"
    recipe.write_text(
        (quickstart_dir / "reward_model.yaml")
        .read_text()
        .replace("./data/preferences.jsonl", str(quickstart_dir / "data" / "preferences.jsonl"))
        .replace("fraction: 1.0", "count: 2")
    )
    trainer = rm_stage.main(
        [str(recipe), "--model_name_or_path", str(tiny_base), "--output_dir", str(tmp_path / "rm")]
        + ["--disable_tqdm", "true", "--max_steps", "1", "--learning_rate", "0", "--seed", "7"]
    )
    fresh = AutoModelForSequenceClassification.from_pretrained(tiny_base, num_labels=1)
    assert fresh.score.weight.std().item() == pytest.approx(0.02, rel=0.3)  # transformers' initializer_range
    init_score_head(fresh, seed=7)
    assert torch.equal(trainer.model.score.weight.detach().cpu(), fresh.score.weight)
    assert fresh.score.weight.std().item() == pytest.approx(1 / 129**0.5, rel=0.3)  # hidden 128


def scores(model, tokenizer, conversations: list[list[dict]]) -> torch.Tensor:
    batch = tokenizer.apply_chat_template(
        conversations, tokenize=True, padding=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        return model(**batch).logits[:, 0]


def test_trains_and_saves_a_one_label_classifier(tmp_path, tiny_base, quickstart_dir):
    recipe = tmp_path / "rm.yaml"
    recipe.write_text(
        (quickstart_dir / "reward_model.yaml")
        .read_text()
        .replace("./data/preferences.jsonl", str(quickstart_dir / "data" / "preferences.jsonl"))
        .replace("fraction: 1.0", "count: 8")
    )
    out = tmp_path / "rm"
    trainer = rm_stage.main(
        [str(recipe), "--model_name_or_path", str(tiny_base), "--output_dir", str(out), "--disable_tqdm", "true"]
        + ["--per_device_train_batch_size", "8", "--max_steps", "15", "--logging_steps", "1"]
        + ["--learning_rate", "1e-3", "--lr_scheduler_type", "constant"]
    )
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 15
    # One batch of 8 pairs, seen 15 times: the Bradley-Terry loss starts near log 2 and the pairs get fitted.
    assert logged[0]["loss"] == pytest.approx(0.69, abs=0.05)
    assert logged[-1]["loss"] < 0.3 and logged[-1]["accuracy"] == 1.0 and logged[-1]["margin"] > 1.0

    # What RLVR does to get its value model.
    loaded = AutoModelForSequenceClassification.from_pretrained(out, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert loaded.config.num_labels == 1 and type(loaded).__name__ == "LlamaForSequenceClassification"
    assert loaded.score.weight.shape == (1, loaded.config.hidden_size)
    assert loaded.config.pad_token_id == tokenizer.pad_token_id is not None
    lines = (quickstart_dir / "data" / "preferences.jsonl").read_text().splitlines()[:4]
    convs = [row["prompt"] + row[side] for row in map(json.loads, lines) for side in ("chosen", "rejected")]
    trained = scores(trainer.model.eval(), tokenizer, convs)
    assert trained.std() > 0  # a real head, not a constant
    assert torch.allclose(scores(loaded.eval(), tokenizer, convs), trained, atol=1e-5)
