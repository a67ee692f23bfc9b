"""DeepSpeed on 2 CPU processes (gloo): under ZeRO-3, SFT and DPO equal the 1-process run with the same global
batch (losses and final weights), every parameter is partitioned, the reward model, GRPO and RLOO train, and the
DPO reference cache keys real (gathered) weights; SFT under ZeRO-2 equals the 1-process run too, and the reward
model, DPO, GRPO and RLOO train under ZeRO-2 (finite losses, moved weights). One torchrun launch runs every check
(tests/_zero3_worker.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from trl import ModelConfig

pytest.importorskip("deepspeed")

from _shared import torchrun

from tulu_recipes.chat_templates import load_chat_template  # noqa: E402
from tulu_recipes.stages.loading import load_model, load_tokenizer  # noqa: E402

ROWS = {"sft.yaml": 48, "dpo.yaml": 16, "rlvr.yaml": 16, "reward_model.yaml": 16}


def _prepare(work: Path, repo_root: Path, quickstart_dir: Path, tiny_base: Path) -> None:
    (work / "recipes").mkdir(parents=True)
    for name, rows in ROWS.items():
        text = (quickstart_dir / name).read_text().replace("./", f"{quickstart_dir}/")
        (work / "recipes" / name).write_text(text.replace("fraction: 1.0", f"count: {rows}"))
    config = json.loads((repo_root / "accelerate_configs" / "ds_zero3.json").read_text())
    config["zero_optimization"]["stage3_param_persistence_threshold"] = 0  # shard even the tiny model's norms
    # A user's plain ZeRO-3 JSON: without the gather flag, the final save must still write loadable weights.
    del config["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"]
    (work / "zero3.json").write_text(json.dumps(config))
    (work / "zero2.json").write_text((repo_root / "accelerate_configs" / "ds_zero2.json").read_text())
    # A base with the <pad> row already added, so no run resizes embeddings; base_b differs in one weight.
    tokenizer = load_tokenizer(ModelConfig(model_name_or_path=str(tiny_base)), load_chat_template("tulu"), False)
    torch.manual_seed(0)
    model = load_model(ModelConfig(model_name_or_path=str(tiny_base), dtype="float32"), tokenizer)
    for name in ("base", "base_b"):
        model.save_pretrained(work / name)
        tokenizer.save_pretrained(work / name)
        with torch.no_grad():
            model.model.layers[0].mlp.down_proj.weight[0, 0] += 0.01


@pytest.fixture(scope="module")
def zero3(tmp_path_factory, repo_root, quickstart_dir, tiny_base):
    work = tmp_path_factory.mktemp("zero3")
    _prepare(work, repo_root, quickstart_dir, tiny_base)
    cmd = [
        *torchrun(),
        str(Path(__file__).with_name("_zero3_worker.py")),
        str(work),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=f"{repo_root}{os.pathsep}{repo_root / 'tests'}")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work, json.loads((work / "zero3_result.json").read_text())


def _one_process(stage: str, work: Path, out: Path, *extra: str):
    import importlib

    module = importlib.import_module(f"tulu_recipes.stages.{stage}")
    argv = [
        str(work / "recipes" / f"{stage}.yaml"),
        "--model_name_or_path",
        str(work / "base"),
        "--output_dir",
        str(out),
        "--logging_steps",
        "1",
        "--disable_tqdm",
        "true",
        "--save_strategy",
        "no",
        *extra,
    ]
    trainer = module.main(argv)
    return [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]


def _untie(state: dict) -> dict:
    """ZeRO-2 saves the tied lm_head as a tensor of its own: it must equal the embedding, then compare without it."""
    if "lm_head.weight" in state and "model.embed_tokens.weight" in state:
        assert torch.equal(state.pop("lm_head.weight"), state["model.embed_tokens.weight"])
    return state


def _weights_apart(a: Path, b: Path, base: Path) -> tuple[float, float]:
    """Largest change from `base` (its rows, where a stage grew the embedding) and largest difference a vs b."""
    x, y, z = (_untie(load_file(str(p / "model.safetensors"))) for p in (a, b, base))
    assert x.keys() == y.keys() == z.keys()
    moved = max((x[k][: z[k].shape[0]].double() - z[k].double()).abs().max().item() for k in x)
    apart = max((x[k].double() - y[k].double()).abs().max().item() for k in x)
    return moved, apart


def _assert_partitioned(sizes: dict) -> None:
    assert sizes["partitioned"] == sizes["params"] > 0  # threshold 0: every parameter is a ZeRO-3 partition
    assert sizes["local"] * 2 == pytest.approx(sizes["full"], rel=1e-3)  # each of 2 ranks holds half
    assert sizes["materialized"] == 0  # released outside forward/backward


@pytest.mark.usefixtures("one_torch_thread")
def test_zero3_and_zero2_sft_equal_one_process(zero3, tmp_path):
    work, result = zero3
    assert result["world_size"] == 2
    _assert_partitioned(result["sft"]["sizes"])
    one = _one_process("sft", work, tmp_path / "sft", "--max_steps", "3", "--per_device_train_batch_size", "16")
    assert result["sft"]["losses"] == pytest.approx(one, rel=2e-3) and len(one) == 3  # logged to 4 digits
    moved, apart = _weights_apart(tmp_path / "sft", work / "sft_z3", work / "base")
    assert moved > 1e-3 and apart < 1e-5, (moved, apart)
    # ZeRO-2 too.
    assert result["sft_zero2"]["stage"] == 2
    assert result["sft_zero2"]["losses"] == pytest.approx(one, rel=2e-3)
    moved, apart = _weights_apart(tmp_path / "sft", work / "sft_z2", work / "base")
    assert moved > 1e-3 and apart < 1e-5, (moved, apart)


@pytest.mark.usefixtures("one_torch_thread")
def test_zero3_dpo_equals_one_process(zero3, tmp_path):
    work, result = zero3
    _assert_partitioned(result["dpo"]["sizes"])
    one = _one_process(
        "dpo",
        work,
        tmp_path / "dpo",
        "--max_steps",
        "2",
        "--per_device_train_batch_size",
        "8",
        "--ref_logprobs_cache_dir",
        str(tmp_path / "cache"),
    )
    assert result["dpo"]["losses"] == pytest.approx(one, rel=2e-3) and len(one) == 2
    moved, apart = _weights_apart(tmp_path / "dpo", work / "dpo_z3", work / "base")
    assert moved > 1e-6 and apart < 1e-5, (moved, apart)
    # The gathered ZeRO-3 weights hash is the unsharded model's: one cache key for one checkpoint, any layout.
    (one_key,) = (p.name for p in (tmp_path / "cache").glob("*.pt"))
    assert one_key in result["keys"]["files"]


def test_zero3_reference_cache_keys_real_weights(zero3):
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import hash_module

    work, result = zero3
    keys = result["keys"]
    # TRL's state_dict hash cannot tell the two checkpoints apart under ZeRO-3 (empty partitions) ...
    assert keys["trl_hashes"]["base"] == keys["trl_hashes"]["base_b"]
    # ... the gathered digest can, equals the unsharded hash of each, and repeats for the same checkpoint.
    assert keys["hashes"]["base"] != keys["hashes"]["base_b"]
    for name in ("base", "base_b"):
        assert keys["hashes"][name] == hash_module(AutoModelForCausalLM.from_pretrained(work / name, dtype="float32"))
    assert keys["hashes"]["base"] == result["dpo"]["weights_hash"]
    assert len(keys["files"]) == 2  # base (shared by the training run and the rerun) and base_b


def test_zero3_reward_model_trains(zero3):
    work, result = zero3
    _assert_partitioned(result["reward_model"]["sizes"])
    assert len(result["reward_model"]["losses"]) == 2 and all(v == v for v in result["reward_model"]["losses"])
    trained = load_file(str(work / "rm_z3" / "model.safetensors"))
    base = load_file(str(work / "base" / "model.safetensors"))
    assert "score.weight" in trained and all(torch.isfinite(t).all() for t in trained.values())
    assert any(not torch.equal(trained[k], base[k]) for k in base if k in trained and "layers" in k)


def test_zero3_grpo_trains(zero3):
    work, result = zero3
    _assert_partitioned(result["grpo"]["sizes"])
    assert len(result["grpo"]["losses"]) == 2
    moved, _ = _weights_apart(work / "grpo_z3", work / "grpo_z3", work / "base")
    trained = load_file(str(work / "grpo_z3" / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in trained.values())
    assert moved > 1e-6, moved


def _trained(work: Path, out: str) -> None:
    """The saved model is finite and moved from the base (the reward model's `score` head is new: not compared)."""
    trained = _untie(load_file(str(work / out / "model.safetensors")))
    base = _untie(load_file(str(work / "base" / "model.safetensors")))
    assert all(torch.isfinite(t).all() for t in trained.values()), out
    common = [k for k in base if k in trained and "layers" in k]
    assert common, out
    moved = max((trained[k].double() - base[k].double()).abs().max().item() for k in common)
    assert moved > 1e-6, (out, moved)


def _finite(values: list[float], steps: int = 2) -> None:
    assert len(values) == steps and all(torch.isfinite(torch.tensor(v)) for v in values), values


def test_zero3_rloo_trains(zero3):
    work, result = zero3
    _assert_partitioned(result["rloo"]["sizes"])
    _finite(result["rloo"]["losses"])
    _trained(work, "rloo_z3")


@pytest.mark.parametrize("stage", ["reward_model", "dpo", "grpo", "rloo"])
def test_zero2_stage_trains(zero3, stage):
    work, result = zero3
    run = result[f"{stage}_zero2"]
    assert run["stage"] == 2
    _finite(run["losses"])
    _trained(work, {"reward_model": "rm"}.get(stage, stage) + "_z2")
