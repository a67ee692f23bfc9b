"""Active sampling and the pass-rate filter on the tiny offline model, with a planted reward.

`_planted_rewards.planted` scores a `solved` prompt 10 on every completion, a `failed` one 0, and a `mixed` one
10, 0, 10, 0 by position, so which groups carry signal is known before anything is generated.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml
from _planted_rewards import planted
from _shared import QUIET_CPU
from datasets import Dataset
from transformers import AutoTokenizer
from trl import GRPOTrainer

from tulu_recipes.config import parse_recipe, run_cli
from tulu_recipes.stages import rlvr
from tulu_recipes.trainers.active_sampling import (
    ActiveSampler,
    ActiveSamplingExhausted,
    concat_rollouts,
    group_outcomes,
    pass_rate_summary,
    prompt_key,
)
from tulu_recipes.trainers.grpo_rloo import TuluGRPOConfig, TuluGRPOTrainer, TuluRLOOConfig, TuluRLOOTrainer
from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer
from tulu_recipes.trainers.verifier_rewards import VerifierRewardsMixin

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "quickstart" / "tiny-base"
G = 4
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def row(i: int, kind: str) -> dict:
    # mixed prompts are longer, so rounds with and without them pad differently when concatenated
    text = f"Question {i} ({kind})" + (" with a much longer wording than the others" if kind == "mixed" else "")
    return {"prompt": [{"role": "user", "content": text}], "ground_truth": kind, "dataset": "planted"}


def prompts(kinds: list[str]) -> Dataset:
    return Dataset.from_list([row(i, kind) for i, kind in enumerate(kinds)])


def kind_of(text: str) -> str:
    return next(k for k in ("solved", "failed", "mixed", "partial") if f"({k})" in text)


def grpo_args(tmp_path: Path, **overrides) -> TuluGRPOConfig:
    return TuluGRPOConfig(**{**base_fields(tmp_path), **overrides})


def base_fields(tmp_path: Path) -> dict:
    return dict(
        output_dir=str(tmp_path / "grpo"),
        learning_rate=1e-3,
        per_device_train_batch_size=2 * G,  # two groups per generation batch
        num_generations=G,
        max_completion_length=4,
        max_steps=2,
        beta=0.0,
        logging_steps=1,
        **QUIET_CPU,
    )


class RecordingMixin:
    """Keeps a copy of every batch that reaches the loss."""

    def _compute_loss(self, model, inputs):
        self.seen.append({k: v.detach().clone() for k, v in inputs.items() if isinstance(v, torch.Tensor)})
        return super()._compute_loss(model, inputs)


class Recording(RecordingMixin, TuluGRPOTrainer):
    pass


class RecordingRLOO(RecordingMixin, TuluRLOOTrainer):
    pass


def trainer(cls, args, dataset: Dataset):
    t = cls(
        model=str(TINY),
        reward_funcs=[planted],
        args=args,
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(TINY),
    )
    t.seen = []
    return t


def decoded_prompts(t, batch) -> list[str]:
    return t.processing_class.batch_decode(batch["prompt_ids"], skip_special_tokens=True)


def test_refill_replaces_zero_spread_groups_with_fresh_prompts(tmp_path):
    kinds = ["solved", "failed"] * 5 + ["mixed"] * 3
    t = trainer(Recording, grpo_args(tmp_path, active_sampling=True), prompts(kinds))
    t.model.train()
    batch = [row(0, "partial")] * G + [row(1, "mixed")] * G  # all scored ones solved; spread
    out = t._generate_and_score_completions([dict(r) for r in batch])
    texts = decoded_prompts(t, out)
    assert len(texts) == 2 * G and all(kind_of(x) == "mixed" for x in texts)
    assert sorted(Counter(texts).values()) == [G, G]  # two whole groups of two different prompts
    assert torch.all(out["advantages"] != 0)
    assert out["num_items_in_batch"].item() == out["completion_mask"].sum().item()
    metrics = t._metrics["train"]
    assert metrics["active_sampling/groups_dropped"][-1] >= 1 and metrics["active_sampling/refill_rounds"][-1] >= 1
    assert metrics["active_sampling/groups_generated"][-1] == 2 + metrics["active_sampling/groups_dropped"][-1]


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_training_never_sees_a_zero_spread_group(tmp_path, algorithm):
    kinds = ["solved", "failed", "mixed"] * 4
    config_cls = TuluGRPOConfig if algorithm == "grpo" else TuluRLOOConfig
    args = config_cls(**base_fields(tmp_path), active_sampling=True)
    t = trainer(Recording if algorithm == "grpo" else RecordingRLOO, args, prompts(kinds))
    t.train()
    assert len(t.seen) == 2
    for batch in t.seen:
        texts = decoded_prompts(t, batch)
        assert len(texts) == 2 * G and {kind_of(x) for x in texts} == {"mixed"}
        assert sorted(Counter(texts).values()) in ([G, G], [2 * G])
        assert torch.all(batch["advantages"] != 0)
        if algorithm == "grpo":
            assert batch["num_items_in_batch"].item() == batch["completion_mask"].sum().item()
        else:
            assert batch["old_logps"].shape == (2 * G,)
    logged = [e for e in t.state.log_history if "active_sampling/refill_rounds" in e]
    assert logged and all(e["active_sampling/groups_generated"] >= 2 for e in logged)


def test_retry_bound_stops_with_the_pass_rates(tmp_path):
    t = trainer(
        Recording,
        grpo_args(tmp_path, active_sampling=True, active_sampling_max_rounds=2),
        prompts(["solved", "failed"] * 6),
    )
    t.model.train()
    batch = [row(0, "solved")] * G + [row(1, "failed")] * G
    with pytest.raises(ActiveSamplingExhausted) as err:
        t._generate_and_score_completions([dict(r) for r in batch])
    message = str(err.value)
    # the first round's 2 groups plus 2 per refill round, none with spread
    assert "filled 0 of 2 groups" in message and "after 2 refill round(s)" in message
    assert "active_sampling_max_rounds=2" in message
    counts = re.search(r"drawn: 0/4 x (\d+), 4/4 x (\d+)\.", message)
    assert counts and int(counts[1]) + int(counts[2]) == 6  # 2 groups a round, 3 rounds, each all failed/solved


def test_on_exhausted_train_keeps_the_groups_with_signal(tmp_path):
    dataset = prompts(["solved", "failed", "solved", "mixed"])
    t = trainer(Recording, grpo_args(tmp_path, active_sampling=True, active_sampling_on_exhausted="train"), dataset)
    t.model.train()
    out = t._generate_and_score_completions([dict(r) for r in [row(0, "solved")] * G + [row(1, "failed")] * G])
    assert len(decoded_prompts(t, out)) == G and {kind_of(x) for x in decoded_prompts(t, out)} == {"mixed"}
    assert out["num_items_in_batch"].item() == out["completion_mask"].sum().item()
    t2 = trainer(Recording, grpo_args(tmp_path, active_sampling=True), dataset)
    t2.model.train()
    with pytest.raises(ActiveSamplingExhausted, match=r"filled 1 of 2 groups \(50%\)"):
        t2._generate_and_score_completions([dict(r) for r in [row(0, "solved")] * G + [row(1, "failed")] * G])


def test_on_exhausted_train_trims_to_whole_mini_batches(tmp_path):
    """3 completions a prompt, 2 mini-batches a generation batch: 3 groups kept (9 rows) train as 2 (6 rows)."""
    args = grpo_args(
        tmp_path,
        active_sampling=True,
        active_sampling_on_exhausted="train",
        num_generations=3,
        per_device_train_batch_size=6,
        steps_per_generation=2,
    )
    t = trainer(Recording, args, prompts(["solved", "failed", "mixed", "mixed", "mixed"]))
    t.model.train()
    batch = [row(0, "solved")] * 3 + [row(1, "failed")] * 3 + [row(2, "mixed")] * 3 + [row(3, "mixed")] * 3
    out = t._generate_and_score_completions([dict(r) for r in batch])
    texts = decoded_prompts(t, out)
    assert len(texts) == 6 and {kind_of(x) for x in texts} == {"mixed"} and sorted(Counter(texts).values()) == [3, 3]
    one = trainer(Recording, args, prompts(["solved", "failed", "mixed"]))
    one.model.train()
    with pytest.raises(ActiveSamplingExhausted, match="filled 1 of 4 groups.*fill no whole mini-batch"):
        one._generate_and_score_completions([dict(r) for r in batch[:6] + [row(4, "failed")] * 6])


def test_pass_rate_filter_retires_after_k_uniform_visits_only(tmp_path):
    args = TuluRLOOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=4,
        num_generations=4,
        pass_rate_filter_visits=3,
        pass_rate_filter_on="solved",
    )
    sampler = ActiveSampler(args, prompts(["solved"]), num_generations=4, steps_per_generation=1)
    a, b, c = [[row(i, "x")] * 4 for i in range(3)]

    def visit(group, solved, scored=4):
        return sampler.record_visits([group], [(True, solved, scored)])

    assert [visit(a, 4), visit(a, 4)] == [0, 0] and not sampler.retired
    assert visit(a, 4) == 1 and len(sampler.retired) == 1  # the third all-solved visit, not before
    for solved in (4, 2, 4, 4):
        assert visit(b, solved) == 0  # the last three are 2/4, 4/4, 4/4
    assert visit(b, 4) == 1
    for _ in range(4):
        assert visit(c, 0) == 0  # all failed, but only `solved` retires here
    assert visit(c, 4, scored=0) == 0 and len(sampler.history) == 3  # a visit nobody scored is no visit
    sampler.args.pass_rate_filter_on = "both"
    assert visit(c, 0) == 1 and len(sampler.retired) == 3


def test_refill_draws_skip_retired_and_already_drawn_prompts(tmp_path):
    args = TuluGRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, per_device_train_batch_size=4, num_generations=2
    )
    dataset = prompts(["solved", "failed", "mixed", "mixed"])
    sampler = ActiveSampler(args, dataset, num_generations=2, steps_per_generation=1)
    sampler.retired = {prompt_key(dataset[0]), prompt_key(dataset[1])}
    seen = {prompt_key(dataset[2])}
    drawn = sampler.draw(3, seen, ["prompt", "ground_truth"])  # only prompt 3 is neither retired nor seen
    assert [[r["prompt"][0]["content"] for r in group] for group in drawn] == [[dataset[3]["prompt"][0]["content"]] * 2]
    assert set(drawn[0][0]) == {"prompt", "ground_truth"} and prompt_key(dataset[3]) in seen
    assert sampler.draw(1, seen, ["prompt"]) == []


def test_pass_rate_filter_in_ppo_swaps_retired_prompts_out(tmp_path):
    dataset = prompts(["solved", "failed"] * 2)
    args = TuluPPOConfig(
        output_dir=str(tmp_path / "ppo"),
        learning_rate=1e-3,
        per_device_train_batch_size=2,
        max_completion_length=4,
        max_steps=6,
        num_iterations=1,
        logging_steps=1,
        **QUIET_CPU,
        non_stop_penalty=None,
        pass_rate_filter_visits=2,
        pass_rate_filter_on="solved",
    )
    t = trainer(TuluPPOTrainer, args, dataset)
    generated: list[list[str]] = []
    inner = t._active_sampler.fill

    def spy(trainer_, generate, inputs):
        return inner(
            trainer_,
            lambda rows: (generated.append([r["prompt"][0]["content"] for r in rows]), generate(rows))[1],
            inputs,
        )

    t._active_sampler.fill = spy
    t.train()
    assert len(generated) == 6 and all(len(batch) == 2 for batch in generated)  # the batch stays full
    visits = Counter(text for batch in generated for text in batch)
    solved = {text for text in visits if kind_of(text) == "solved"}
    assert all(visits[text] <= 2 for text in solved)  # a solved prompt is never generated a third time
    retired_texts = {json.loads(k)[0][0]["content"] for k in t._active_sampler.retired}
    assert retired_texts == {text for text in solved if visits[text] == 2} and retired_texts
    assert not any(kind_of(x) == "failed" for x in retired_texts)
    logged = [
        e["pass_rate_filter/prompts_retired"] for e in t.state.log_history if "pass_rate_filter/prompts_retired" in e
    ]
    assert logged[-1] == len(retired_texts)


def test_default_off_is_bit_identical_to_trl(tmp_path):
    """With both features off nothing is wrapped: the same loss and weights as TRL's trainer with our rewards."""

    class Baseline(VerifierRewardsMixin, GRPOTrainer):
        pass

    dataset = prompts(["solved", "failed", "mixed"] * 4)
    runs = []
    for cls in (Baseline, TuluGRPOTrainer):
        torch.manual_seed(0)
        t = trainer(cls, grpo_args(tmp_path / cls.__name__), dataset)
        t.train()
        runs.append(t)
    assert runs[1]._active_sampler is None and "_generate_and_score_completions" not in runs[1].__dict__
    losses = [[e["loss"] for e in t.state.log_history if "loss" in e] for t in runs]
    assert losses[0] == losses[1] and len(losses[0]) == 2
    for p, q in zip(runs[0].model.parameters(), runs[1].model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_active_sampling_changes_nothing_when_every_group_has_signal(tmp_path):
    dataset = prompts(["mixed"] * 6)
    runs = []
    for active in (False, True):
        torch.manual_seed(0)
        t = trainer(Recording, grpo_args(tmp_path / str(active), active_sampling=active, max_steps=1), dataset)
        t.train()
        runs.append(t)
    for a, b in zip(runs[0].seen, runs[1].seen, strict=True):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for p, q in zip(runs[0].model.parameters(), runs[1].model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_group_outcomes_and_summary_by_hand():
    nan = float("nan")
    scores = torch.tensor([10.0, 10, 10, 10, 0, 10, 0, 0, -10, 0, nan, nan, 5, nan, nan, nan])
    outcomes = group_outcomes(scores, 4)
    assert outcomes == [(False, 4, 4), (True, 1, 4), (True, 0, 2), (False, 1, 1)]
    assert pass_rate_summary(outcomes) == "0/2 x 1, 1/1 x 1, 1/4 x 1, 4/4 x 1"


def test_concat_pads_prompts_left_and_completions_right():
    a = {
        "prompt_ids": torch.tensor([[7, 8]]),
        "prompt_mask": torch.tensor([[1, 1]]),
        "completion_ids": torch.tensor([[5]]),
        "advantages": torch.tensor([0.5]),
        "n": torch.tensor(3),
    }
    b = {
        "prompt_ids": torch.tensor([[6, 7, 8]]),
        "prompt_mask": torch.tensor([[1, 1, 1]]),
        "completion_ids": torch.tensor([[4, 3]]),
        "advantages": torch.tensor([-0.5]),
        "n": torch.tensor(3),
    }
    out = concat_rollouts([a, b], pad_token_id=2)
    assert out["prompt_ids"].tolist() == [[2, 7, 8], [6, 7, 8]]
    assert out["prompt_mask"].tolist() == [[0, 1, 1], [1, 1, 1]]
    assert out["completion_ids"].tolist() == [[5, 2], [4, 3]]
    assert out["advantages"].tolist() == [0.5, -0.5]


def recipe(tmp_path: Path, algorithm: str, **extra) -> Path:
    data = tmp_path / "prompts.jsonl"
    data.write_text(
        "".join(
            json.dumps({"messages": r["prompt"], "ground_truth": r["ground_truth"], "dataset": "planted"}) + "\n"
            for r in (row(i, k) for i, k in enumerate(["solved", "failed"] * 4))
        ),
        encoding="utf-8",
    )
    body = {
        "algorithm": algorithm,
        "model_name_or_path": str(TINY),
        "dataset_mixer": [{"path": str(data), "fraction": 1.0}],
        "reward_funcs": ["_planted_rewards:planted"],
        "output_dir": str(tmp_path / "out"),
        "learning_rate": 1e-3,
        "per_device_train_batch_size": 2 * G,
        "num_generations": G,
        "max_completion_length": 4,
        "max_steps": 1,
        "use_cpu": True,
        "bf16": False,
        "gradient_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
        **extra,
    }
    if algorithm == "ppo":
        body.update(num_generations=1, per_device_train_batch_size=2)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("algorithm", "extra", "field"),
    [
        ("grpo", {"active_sampling": True, "active_sampling_max_rounds": 0}, "active_sampling_max_rounds"),
        ("rloo", {"pass_rate_filter_visits": -1}, "pass_rate_filter_visits"),
        ("ppo", {"active_sampling": True}, "active_sampling"),
        ("grpo", {"active_sampling_on_exhausted": "retry"}, "active_sampling_on_exhausted"),
        ("ppo", {"pass_rate_filter_on": "sometimes"}, "pass_rate_filter_on"),
    ],
)
def test_bad_values_exit_2_naming_the_field_before_loading(tmp_path, capsys, algorithm, extra, field):
    path = recipe(tmp_path, algorithm, model_name_or_path=str(tmp_path / "no-such-model"), **extra)
    with pytest.raises(SystemExit) as exit_:
        run_cli(rlvr.main, [str(path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and field in err and "\n" not in err and "no-such-model" not in err


def test_exhausted_run_exits_2_with_the_pass_rates(tmp_path, capsys):
    path = recipe(tmp_path, "grpo", active_sampling=True, active_sampling_max_rounds=1)
    with pytest.raises(SystemExit) as exit_:
        run_cli(rlvr.main, [str(path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: active sampling filled 0 of 2 groups") and "0/4 x" in err and "4/4 x" in err


@pytest.mark.parametrize("name", ["tulu3-8b/rlvr.yaml", "tulu3-8b/rlvr-grpo.yaml", "tulu3-70b/rlvr.yaml"])
def test_release_recipes_keep_both_features_off(name):
    argv = [str(ROOT / "recipes" / name), "--use_cpu", "true", "--bf16", "false"]
    config_cls, _ = rlvr.ALGORITHMS[rlvr.algorithm_of(argv)]
    args = parse_recipe([rlvr.TuluScriptArguments, rlvr.RLVRArguments, config_cls, rlvr.ModelConfig], argv)[2]
    assert (args.active_sampling, args.pass_rate_filter_visits) == (False, 0)


def test_checkpoint_keeps_the_retired_prompts_and_the_refill_order(tmp_path):
    dataset = prompts(["solved", "failed"] * 2)
    fields = dict(
        learning_rate=1e-3, per_device_train_batch_size=2, max_completion_length=4, num_iterations=1, use_cpu=True,
        bf16=False, gradient_checkpointing=False, report_to="none", disable_tqdm=True, seed=0,
        non_stop_penalty=None, pass_rate_filter_visits=1, pass_rate_filter_on="solved", save_strategy="steps",
        save_steps=2, max_steps=2, output_dir=str(tmp_path / "ppo"),
    )  # fmt: skip
    first = trainer(TuluPPOTrainer, TuluPPOConfig(**fields), dataset)
    first.train()
    saved = first._active_sampler.state_dict()
    assert saved["retired"] and (tmp_path / "ppo" / "checkpoint-2" / "active_sampling.json").is_file()
    second = trainer(TuluPPOTrainer, TuluPPOConfig(**fields), dataset)
    assert not second._active_sampler.retired
    second.train(resume_from_checkpoint=str(tmp_path / "ppo" / "checkpoint-2"))
    assert second._active_sampler.state_dict() == saved
    assert second._active_sampler.draw(1, set(), ["prompt"]) == first._active_sampler.draw(1, set(), ["prompt"])
