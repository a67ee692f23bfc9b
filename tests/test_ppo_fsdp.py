"""PPO's training step under FSDP2 (`fully_shard`) on 2 CPU processes (torchrun, gloo) against 1 plain process.

tests/_ppo_fsdp.py shards the tiny policy and a value model built as TuluPPOTrainer builds it
(tulu_recipes.trainers.fsdp), then takes two AdamW steps of the PPO loss (ppo_math + the trainer's value slicing)
on a fixed rollout with padding. Same global batch in both runs: losses, global grad norms and gathered weights must
agree to fp32 precision. The accelerate FSDP end-to-end run is GPU-only (accelerate_configs/fsdp.yaml).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _shared import torchrun
from safetensors.torch import load_file

HELPER = Path(__file__).with_name("_ppo_fsdp.py")


def _launch(prefix: list[str], out: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(prefix + [str(HELPER), str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ppo_fsdp")
    _launch([sys.executable], out)
    _launch(torchrun(), out)
    return out


def _info(out: Path, name: str) -> dict:
    return json.loads((out / name / "info.json").read_text())


def test_fully_shard_really_shards_policy_and_value(runs):
    ranks = _info(runs, "fsdp")["per_rank"]
    assert len(ranks) == 2
    assert ranks[0]["state_keys"][0] > 30 and ranks[1]["state_keys"] == [0, 0]  # gathered on rank 0 only
    for model, head in (("policy", "lm_head.weight"), ("value", "score.weight")):
        shards = [{s["name"]: s for s in rank["shards"][model]} for rank in ranks]
        assert shards[0].keys() == shards[1].keys() and len(shards[0]) > 30
        assert (head in shards[0]) == (model == "value")  # the policy's LM head is tied to its embeddings
        for name, first in shards[0].items():
            second = shards[1][name]
            assert first["dtensor"] and first["shard0"] and second["shard0"], (model, name)
            assert first["local"] + second["local"] == first["full"], (model, name)  # split, not replicated
            if first["rows"] >= 2:
                assert max(first["local"], second["local"]) < first["full"], (model, name)


def test_fsdp_ppo_steps_equal_one_process(runs, tiny_base):
    plain, sharded = _info(runs, "plain"), _info(runs, "fsdp")
    assert plain["world"] == 1 and sharded["world"] == 2
    assert plain["tokens"] == [12, 16] and [r["tokens"] for r in sharded["per_rank"]] == [[6, 8], [6, 8]]
    assert len(plain["steps"]) == len(sharded["steps"]) == 2
    for one, two in zip(plain["steps"], sharded["steps"], strict=True):
        for key in ("policy_loss", "value_loss", "policy_grad_norm", "value_grad_norm"):
            assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-6), key  # global norms, not per shard
        assert two["policy_clip"] == pytest.approx(one["policy_clip"]) and two["value_clip"] == one["value_clip"]
    second = plain["steps"][1]
    assert second["policy_clip"] > 0 and second["value_clip"] > 0  # step 2 runs the clipped branches
    assert plain["steps"][0]["policy_grad_norm"] > 1.0  # so the clip to 1.0 acts
    base = load_file(tiny_base / "model.safetensors")  # the value model's backbone starts from it too
    for model in ("policy", "value"):
        one = load_file(runs / "plain" / f"{model}.safetensors")
        two = load_file(runs / "fsdp" / f"{model}.safetensors")
        assert one.keys() == two.keys()
        for name in one:
            assert one[name].shape == two[name].shape, name
            apart = (one[name] - two[name]).abs().max().item()
            if name in base:
                moved = (one[name] - base[name]).abs().max().item()
                assert moved > 1e-4 and apart < 0.02 * moved, (name, apart, moved)
            else:
                assert apart < 2e-5, name
