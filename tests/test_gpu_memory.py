"""benchmarks/memory.py: PPO's policy and value activations are alive in the same loss, so they add up."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("deepspeed")


def load_memory():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "memory.py"
    spec = importlib.util.spec_from_file_location("benchmarks_memory", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_ppo_activations_add_policy_and_value():
    memory = load_memory()
    run = next(r for r in memory.RUNS if r.recipe == "tulu3-8b/rlvr.yaml")
    tokens = 4 * 4096
    layers = 32 * tokens * 4096 * 2 + tokens * 34 * 4096  # checkpointed inputs + one recomputed layer
    policy = layers + tokens * 128_264 * 10  # + logits and loss
    value = layers  # scalar head: no logits term
    assert (policy, value) == (27_591_442_432, 6_576_668_672)
    assert memory.plan(run)["acts"] * memory.GB == policy + value


def test_single_model_stages_keep_their_activations():
    memory = load_memory()
    run = next(r for r in memory.RUNS if r.recipe == "tulu3-8b/dpo.yaml")
    tokens = 2 * 2048
    assert memory.plan(run)["acts"] * memory.GB == 32 * tokens * 4096 * 2 + tokens * 34 * 4096 + tokens * 128_264 * 10
