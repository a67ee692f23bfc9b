"""bf16 on CPU: the hardware check before any model loads, and bf16 GRPO/PPO steps that keep fp32 master weights."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import torch
import yaml
from datasets import Dataset
from transformers import AutoTokenizer

from tulu_recipes import precision
from tulu_recipes.config import parse_recipe, run_cli
from tulu_recipes.trainers.grpo_rloo import TuluGRPOConfig, TuluGRPOTrainer
from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "quickstart" / "tiny-base"
RLVR = ROOT / "recipes" / "quickstart" / "data" / "rlvr.jsonl"


def recipe(tmp_path: Path, **fields) -> str:
    body = {
        "algorithm": "grpo",
        "model_name_or_path": str(TINY),
        "dataset_mixer": [{"path": str(RLVR), "count": 8}],
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "bf16": True,
        "report_to": "none",
    }
    body.update(fields)
    path = tmp_path / "rlvr.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return str(path)


def parse(path: str):
    from trl import ModelConfig

    from tulu_recipes.script_args import TuluScriptArguments
    from tulu_recipes.stages.rlvr import RLVRArguments

    return parse_recipe([TuluScriptArguments, RLVRArguments, TuluGRPOConfig, ModelConfig], [path])


def test_bf16_on_a_cpu_without_bf16_warns_once_and_trains_in_fp32(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(precision, "cpu_bf16_supported", lambda: False)
    with caplog.at_level(logging.WARNING, logger="tulu_recipes"):
        _, _, training_args, _ = parse(recipe(tmp_path))
    assert training_args.bf16 is False
    warnings = [r.getMessage() for r in caplog.records if "bf16" in r.getMessage()]
    assert len(warnings) == 1 and "fp32" in warnings[0] and "\n" not in warnings[0]


def test_bf16_stays_on_where_the_cpu_has_it(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_supported", lambda: True)
    _, _, training_args, _ = parse(recipe(tmp_path, require_cpu_bf16=True))
    assert training_args.bf16 is True


def test_forcing_bf16_on_a_cpu_without_it_exits_2_before_loading(tmp_path, monkeypatch, capsys):
    from tulu_recipes.stages import rlvr

    monkeypatch.setattr(precision, "cpu_bf16_supported", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(rlvr.main, [recipe(tmp_path, require_cpu_bf16=True)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "require_cpu_bf16" in err and len(err.splitlines()) == 1, err


def test_torch_threads_sets_the_thread_count_before_loading(tmp_path, monkeypatch):
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        parse(recipe(tmp_path, torch_threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
    with pytest.raises(ValueError, match="torch_threads"):
        parse(recipe(tmp_path, torch_threads=-1))


@pytest.mark.parametrize(("load", "expected"), [(0.3, 4), (1.0, 3), (2.6, 1), (9.0, 1)])
def test_torch_threads_0_takes_the_cores_the_load_leaves_idle(tmp_path, monkeypatch, load, expected):
    """4 usable cores: an idle machine gets 4 threads, one busy core 3, a load above the core count still 1."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if expected != 1 else 2)
        parse(recipe(tmp_path, torch_threads=0))
        assert torch.get_num_threads() == expected
    finally:
        torch.set_num_threads(previous)


def test_this_machines_cpu_is_detected_from_its_flags(monkeypatch):
    """The flag reader alone, on a CPU flag line with and without bf16 (the torch probes say no)."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(precision.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert precision.cpu_bf16_supported() is False
    monkeypatch.setattr(precision, "_cpu_flags", lambda: {"avx2", "avx512f", "amx_bf16"})
    assert precision.cpu_bf16_supported() is True


def rows(n: int) -> Dataset:
    data = [json.loads(line) for line in RLVR.read_text().splitlines()[:n]]
    return Dataset.from_list([{"prompt": r["messages"], "ground_truth": r["ground_truth"]} for r in data])


def half(completions, **kwargs):
    return [float(i % 2) for i in range(len(completions))]


class DtypeLog:
    """Records, per forward of one decoder layer, (incremental decoding step?, output dtype)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls: list[tuple[bool, torch.dtype]] = []
        module.register_forward_hook(
            lambda _m, inputs, output: self.calls.append((inputs[0].size(1) == 1, output.dtype))
        )

    def decoding(self) -> set[torch.dtype]:
        return {dtype for step, dtype in self.calls if step}

    def full(self) -> set[torch.dtype]:
        return {dtype for step, dtype in self.calls if not step}


@pytest.mark.parametrize("algorithm", ["grpo", "ppo"])
def test_a_bf16_cpu_step_samples_in_bf16_and_keeps_fp32_master_weights(tmp_path, algorithm, one_torch_thread):
    common = dict(
        output_dir=str(tmp_path / algorithm),
        per_device_train_batch_size=4,
        max_completion_length=5,
        max_steps=2,
        learning_rate=1e-3,
        beta=0.05,
        use_cpu=True,
        bf16=True,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        logging_steps=1,
        seed=0,
    )
    tokenizer = AutoTokenizer.from_pretrained(TINY)
    if algorithm == "grpo":
        config = TuluGRPOConfig(num_generations=2, tis_cap=2.0, **common)
        trainer = TuluGRPOTrainer(
            model=str(TINY), reward_funcs=[half], args=config, train_dataset=rows(8), processing_class=tokenizer
        )
    else:
        config = TuluPPOConfig(num_iterations=1, use_rho_correction=True, **common)
        trainer = TuluPPOTrainer(
            model=str(TINY), reward_funcs=[half], args=config, train_dataset=rows(8), processing_class=tokenizer
        )
    policy_layer = trainer.model.model.layers[0].mlp.down_proj
    start = policy_layer.weight.detach().clone()
    policy = DtypeLog(policy_layer)
    value = DtypeLog(trainer.value_model.model.layers[0].mlp.down_proj) if algorithm == "ppo" else None
    trainer.train()

    assert policy.decoding() == {torch.bfloat16}  # the rollout was sampled in bf16
    assert policy.full() == {torch.bfloat16}  # learner (and rollout log-prob) forwards under autocast
    assert {p.dtype for p in trainer.model.parameters()} == {torch.float32}
    assert not torch.equal(policy_layer.weight, start)  # fp32 weights that moved
    if value is not None:
        assert value.full() == {torch.bfloat16}
        assert {p.dtype for p in trainer.value_model.parameters()} == {torch.float32}
    logged = [h for h in trainer.state.log_history if "sampling/sampling_logp_difference/mean" in h]
    assert len(logged) == 2  # every step
    # the sampler and the learner both compute in bf16 from the same fp32 weights: the mismatch is rounding-sized
    assert all(0.0 <= h["sampling/sampling_logp_difference/mean"] < 0.05 for h in logged)
    assert all(h["sampling/importance_sampling_ratio/min"] > 0.8 for h in logged)
