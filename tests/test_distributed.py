"""Distributed launch: the shipped accelerate configs load with accelerate's own loader, and a 2-process CPU
(gloo) SFT run follows the 1-process run with the same global batch."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest
import torch
from _shared import torchrun
from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
from accelerate.utils import DistributedType
from transformers import AutoModelForCausalLM

CPU_OFFLOAD = {"device": "cpu", "pin_memory": True}
EXPECTED = {
    "single_gpu.yaml": (DistributedType.NO, 1, {}),
    "multi_gpu.yaml": (DistributedType.MULTI_GPU, 8, {}),
    "deepspeed_zero2.yaml": (DistributedType.DEEPSPEED, 8, {"stage": 2}),
    "deepspeed_zero3.yaml": (
        DistributedType.DEEPSPEED,
        8,
        {"stage": 3, "stage3_gather_16bit_weights_on_model_save": True},
    ),
    "deepspeed_zero3_offload.yaml": (
        DistributedType.DEEPSPEED,
        8,
        {"stage": 3, "offload_optimizer": CPU_OFFLOAD, "offload_param": CPU_OFFLOAD},
    ),
    "fsdp.yaml": (DistributedType.FSDP, 8, {"fsdp_version": 2, "fsdp_state_dict_type": "FULL_STATE_DICT"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_configs_load(repo_root, name):
    config = load_config_from_file(str(repo_root / "accelerate_configs" / name))
    kind, processes, subset = EXPECTED[name]
    assert isinstance(config, ClusterConfig)
    assert config.distributed_type == kind and config.num_processes == processes and config.num_machines == 1
    if kind != DistributedType.DEEPSPEED:
        assert config.mixed_precision == "bf16"
        assert subset.items() <= config.fsdp_config.items()
        return
    # The ZeRO settings live in the shipped JSON (also usable as `--deepspeed`); accelerate refuses a
    # `mixed_precision` next to a config file, so bf16 is the JSON's "auto" (the recipe's `bf16: true`).
    assert config.mixed_precision is None
    assert set(config.deepspeed_config) == {"deepspeed_config_file", "zero3_init_flag"}
    path = repo_root / config.deepspeed_config["deepspeed_config_file"]
    ds = json.loads(path.read_text())
    assert subset.items() <= ds["zero_optimization"].items()
    assert config.deepspeed_config["zero3_init_flag"] == (ds["zero_optimization"]["stage"] == 3)
    # Batch sizes, accumulation, clipping and precision come from the recipe, never pinned in the launcher config.
    for key in (
        "train_batch_size",
        "train_micro_batch_size_per_gpu",
        "gradient_accumulation_steps",
        "gradient_clipping",
    ):
        assert ds[key] == "auto", key
    assert ds["bf16"] == {"enabled": "auto"}


@pytest.mark.parametrize("name", ["deepspeed_zero2.yaml", "deepspeed_zero3.yaml", "deepspeed_zero3_offload.yaml"])
def test_accelerate_deepspeed_plugin_accepts_the_shipped_json(repo_root, name, monkeypatch):
    """What `accelerate launch` exports for these configs, read back by accelerate's own DeepSpeedPlugin."""
    from accelerate.utils import DeepSpeedPlugin

    config = load_config_from_file(str(repo_root / "accelerate_configs" / name))
    monkeypatch.chdir(repo_root)
    monkeypatch.setenv("ACCELERATE_CONFIG_DS_FIELDS", ",".join(config.deepspeed_config))
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_CONFIG_FILE", config.deepspeed_config["deepspeed_config_file"])
    plugin = DeepSpeedPlugin(zero3_init_flag=config.deepspeed_config["zero3_init_flag"])
    stage = json.loads((repo_root / config.deepspeed_config["deepspeed_config_file"]).read_text())
    assert plugin.zero_stage == stage["zero_optimization"]["stage"]
    assert plugin.deepspeed_config["gradient_accumulation_steps"] == "auto"


def test_every_shipped_config_is_checked(repo_root):
    assert sorted(p.name for p in (repo_root / "accelerate_configs").glob("*.yaml")) == sorted(EXPECTED)


def _sft(recipe, out, launcher: list[str], per_device: int) -> list[float]:
    cmd = launcher + [
        "-m",
        "tulu_recipes.stages.sft",
        str(recipe),
        "--output_dir",
        str(out),
        "--max_steps",
        "3",
        "--per_device_train_batch_size",
        str(per_device),
        "--logging_steps",
        "1",
        "--disable_tqdm",
        "true",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = [ast.literal_eval(line) for line in proc.stdout.splitlines() if line.startswith("{'loss'")]
    return [float(entry["loss"]) for entry in logs]


def test_two_process_sft_matches_one_process(tmp_path, quickstart_dir):
    """torchrun --nproc_per_node 2 (gloo on CPU) with half the per-device batch: same losses, same weights."""
    recipe = quickstart_dir / "sft.yaml"
    one = _sft(recipe, tmp_path / "one", [sys.executable], per_device=16)
    two = _sft(recipe, tmp_path / "two", torchrun(), per_device=8)
    assert len(one) == len(two) == 3  # only rank 0 logs
    assert two == pytest.approx(one, rel=2e-3)  # logged with 4 significant digits
    assert one[0] != one[-1]
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "one").state_dict()
    b = AutoModelForCausalLM.from_pretrained(tmp_path / "two").state_dict()
    base = AutoModelForCausalLM.from_pretrained(quickstart_dir / "tiny-base").state_dict()
    moved = max((a[k] - base[k]).abs().max().item() for k in a)
    apart = max((a[k] - b[k]).abs().max().item() for k in a)
    # gloo's all-reduce sums fp32 gradients in another order than one process: a relative bound (1% of how far
    # training moved the weights); ranks that did not share gradients land as far apart as the weights moved.
    assert moved > 1e-3 and apart < 1e-2 * moved, (moved, apart)
    assert all(torch.isfinite(b[k]).all() for k in b)
