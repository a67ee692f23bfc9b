"""Verifier diagnostics: the category of a verdict, per-dataset shares on a planted batch, sample files in a run."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from test_rlvr_stage import tiny_recipe

from rewards import load_reward
from rewards.diagnose import Diagnosis, classify, diagnose
from tulu_recipes.config import RecipeError
from tulu_recipes.stages import rlvr
from tulu_recipes.trainers import verifier_diagnostics
from tulu_recipes.trainers.grpo_rloo import TuluGRPOConfig, TuluRLOOConfig
from tulu_recipes.trainers.ppo import TuluPPOConfig


@pytest.mark.parametrize(
    ("completion", "gold", "verifier", "expected"),
    [
        ("So the answer is 18.", "18", "gsm8k", Diagnosis("correct", "18")),
        ("So the answer is 1,450,000.", "1450000", "gsm8k", Diagnosis("correct", "1450000")),
        ("The answer is 17.", "18", "gsm8k", Diagnosis("wrong", "17")),
        ("The answer is either 3 or 4.", "3", "gsm8k", Diagnosis("hedge")),
        ("\\boxed{18}\n#### 19", "18", "gsm8k", Diagnosis("hedge")),
        ("The answer is not 72.", "72", "gsm8k", Diagnosis("no_answer")),
        ("I do not know.", "5", "gsm8k", Diagnosis("no_answer")),
        ("So \\boxed{\\frac{3}{4}}.", "0.75", "math", Diagnosis("correct", "\\frac{3}{4}")),
        ("So \\boxed{\\frac{1}{2}}.", "\\frac34", "math", Diagnosis("wrong", "\\frac{1}{2}")),
        ("\\boxed{1}\n#### 2", "2", "math", Diagnosis("hedge")),
        ("So the answer is $\\frac34, \\frac12$.", "\\frac34", "math", "hedge"),
        ("We get $x = 7$.", "5", "math", "no_answer"),
        ("The answer is not $\\frac{1}{2}$.", "\\frac{1}{2}", "math", Diagnosis("no_answer")),
        ("all lower case.", '{"func_name": "validate_lowercase"}', "ifeval", Diagnosis("correct")),
        ("Not Lower.", '{"func_name": "validate_lowercase"}', "ifeval", Diagnosis("wrong")),
        ("   ", '{"func_name": "validate_lowercase"}', "ifeval", Diagnosis("no_answer")),
    ],
)
def test_diagnose_scores_then_names_the_reason(completion, gold, verifier, expected):
    found = diagnose(completion, gold, verifier)
    assert (found.category if isinstance(expected, str) else found) == expected


def test_classify_keeps_the_verdict_and_never_raises():
    # the category follows the verdict given, never a different score: a rejected "18" is wrong, not correct
    assert classify("The answer is 18.", "18", "gsm8k", False) == Diagnosis("wrong", "18")
    assert classify("The answer is 18.", "18", "gsm8k", True, want_answer=False) == Diagnosis("correct")
    assert classify("x", "1", "gsm8k", None) == Diagnosis("unscored")
    assert classify(object(), object(), "math", False).category in ("wrong", "no_answer")
    chat = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "The answer is 3 or 4."}]
    assert classify(chat, "3", "gsm8k", False).category == "hedge"
    assert diagnose("The answer is 3.", "3", "nope") == Diagnosis("unscored")


def format_bonus(completions, **kwargs):
    """A second reward function that scores every row: the verdict must come from the verifier's column."""
    return [1.0] * len(completions)


EOS = 0
# (completion, gold, dataset, ends with EOS); hand-labelled category in the comment
PLANTED = [
    ("So the answer is 18.", "18", "gsm8k", True),  # correct
    ("#### 18", "18", "gsm8k", False),  # correct, truncated
    ("The answer is 17.", "18", "gsm8k", False),  # wrong, truncated
    ("The answer is 3 or 4.", "3", "gsm8k", True),  # hedge
    ("I am not sure what", "5", "gsm8k", False),  # no answer, truncated
    ("\\boxed{\\frac{3}{4}}", "\\frac34", "math", True),  # correct
    ("\\boxed{1} or \\boxed{2}", "1", "math", False),  # hedge, truncated
    ("I give up.", "2", "math", True),  # no answer
    ("\\boxed{5}", "6", "math", True),  # wrong
    ("whatever", "1", "other", False),  # no verifier owns it: not counted
]


def fake_trainer(tmp_path, sample_steps: int = 0) -> SimpleNamespace:
    return SimpleNamespace(
        args=SimpleNamespace(
            output_dir=str(tmp_path),
            verifier_diagnostics=True,
            verifier_sample_steps=sample_steps,
            verifier_sample_size=4,
        ),  # fmt: skip
        state=SimpleNamespace(global_step=0),
        accelerator=SimpleNamespace(process_index=0, is_main_process=True),
        model=SimpleNamespace(training=True),
        reward_funcs=[format_bonus, load_reward("verifiable")],
        eos_token_ids=[EOS],
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
    )


def planted_call(trainer) -> None:
    completions = [c for c, _, _, _ in PLANTED]
    columns = {"ground_truth": [g for _, g, _, _ in PLANTED], "dataset": [d for _, _, d, _ in PLANTED]}
    scores = [format_bonus(completions), trainer.reward_funcs[1](completions=completions, **columns)]
    rewards = torch.tensor([[a, float("nan") if b is None else b] for a, b in zip(*scores, strict=True)])
    # EOS at the start of a truncated completion: only the last token counts
    ids = [[5, 6, EOS] if eos else [EOS, 5, 6] for _, _, _, eos in PLANTED]
    inputs = [{"ground_truth": g, "dataset": d} for _, g, d, _ in PLANTED]
    verifier_diagnostics.observe(trainer, inputs, ["q"] * len(PLANTED), completions, ids, rewards)


def test_shares_per_dataset_on_a_planted_batch(tmp_path):
    trainer = fake_trainer(tmp_path)
    planted_call(trainer)
    logged = {k: v for k, v in trainer._metrics["train"].items()}
    assert logged == {
        "verifier/gsm8k/correct": [2 / 5],
        "verifier/gsm8k/no_answer": [1 / 5],
        "verifier/gsm8k/hedge": [1 / 5],
        "verifier/gsm8k/truncated": [3 / 5],
        "verifier/math/correct": [1 / 4],
        "verifier/math/no_answer": [1 / 4],
        "verifier/math/hedge": [1 / 4],
        "verifier/math/truncated": [1 / 4],
    }
    assert not (tmp_path / "verifier_samples").exists()  # samples are off by default

    trainer.args.verifier_diagnostics = False
    planted_call(trainer)
    assert len(trainer._metrics["train"]["verifier/gsm8k/correct"]) == 1


def sampled_steps(tmp_path, every: int, generation_steps: range) -> list[str]:
    trainer = fake_trainer(tmp_path, sample_steps=every)
    for step in generation_steps:
        trainer.state.global_step = step - 1  # the step the completions train is global_step + 1
        planted_call(trainer)
    return sorted(p.name for p in (tmp_path / "verifier_samples").iterdir())


def test_sample_files_every_n_steps_with_verdict_and_answer(tmp_path):
    assert sampled_steps(tmp_path / "a", 4, range(1, 10)) == ["step-000004.jsonl", "step-000008.jsonl"]
    every_third = ["step-000004.jsonl", "step-000010.jsonl", "step-000013.jsonl"]  # due at 4, 8, 12: no drift
    assert sampled_steps(tmp_path / "b", 4, range(1, 14, 3)) == every_third
    # generation every second step (PPO with num_iterations 2): the first generation at or after each due step
    files = sampled_steps(tmp_path, 4, range(1, 14, 2))
    assert files == ["step-000005.jsonl", "step-000009.jsonl", "step-000013.jsonl"]
    rows = [json.loads(line) for line in (tmp_path / "verifier_samples" / files[0]).read_text().splitlines()]
    assert len(rows) == 4 and {r["step"] for r in rows} == {5}
    by_completion = {c: (g, d, eos) for c, g, d, eos in PLANTED}
    for row in rows:
        gold, dataset, eos = by_completion[row["completion"]]
        assert (row["ground_truth"], row["dataset"], row["truncated"]) == (gold, dataset, not eos)
        if dataset == "other":
            assert (row["category"], row["score"]) == ("unscored", None)
        else:
            assert Diagnosis(row["category"], row["extracted"]) == diagnose(row["completion"], gold, dataset)
            assert row["score"] == (10.0 if row["category"] == "correct" else 0.0)

    trainer = fake_trainer(tmp_path, sample_steps=4)
    trainer.model.training = False  # evaluation never writes samples
    trainer.state.global_step = 30
    planted_call(trainer)
    assert not (tmp_path / "verifier_samples" / "step-000031.jsonl").exists()


@pytest.mark.parametrize("config", [TuluGRPOConfig, TuluRLOOConfig, TuluPPOConfig])
def test_config_fields_have_help_and_keep_the_release_behaviour(config):
    fields = {f.name: f for f in dataclasses.fields(config)}
    assert fields["verifier_sample_steps"].default == 0 and fields["verifier_sample_size"].default == 32
    assert fields["verifier_diagnostics"].default is True
    for name in ("verifier_diagnostics", "verifier_sample_steps", "verifier_sample_size"):
        assert fields[name].metadata["help"]


def test_a_negative_sample_interval_stops_the_recipe(tmp_path):
    with pytest.raises(RecipeError, match="verifier_sample_steps must be >= 0"):
        rlvr.main([str(tiny_recipe(tmp_path, "grpo", num_generations=2, verifier_sample_steps=-1))])


def test_tiny_grpo_run_writes_samples_and_logs_the_shares(tmp_path):
    recipe = tiny_recipe(tmp_path, "grpo", num_generations=2, verifier_sample_steps=1, verifier_sample_size=3)
    trainer = rlvr.main([str(recipe)])
    assert trainer.state.global_step == 2
    folder = tmp_path / "grpo" / "verifier_samples"
    assert sorted(p.name for p in folder.iterdir()) == ["step-000001.jsonl", "step-000002.jsonl"]
    for path in folder.iterdir():
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert len(rows) == 3
        for row in rows:
            assert row["dataset"] == "gsm8k" and row["verifier"] == "gsm8k"
            found = diagnose(row["completion"], row["ground_truth"], "gsm8k")
            assert (row["category"], row["extracted"]) == (found.category, found.extracted)
    entry = next(e for e in trainer.state.log_history if "verifier/gsm8k/truncated" in e)
    # every row is gsm8k here, so the per-dataset truncated share is TRL's clipped ratio
    assert entry["verifier/gsm8k/truncated"] == pytest.approx(entry["completions/clipped_ratio"])
    assert entry["verifier/gsm8k/correct"] == pytest.approx(entry["verifier/gsm8k/accuracy"])
