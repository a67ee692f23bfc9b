"""The `accelerate launch` route of the GPU recipes on 2 CPU processes, from a base without a pad token (like Llama
3.1 base): FSDP's cpu-RAM-efficient loading step, SFT under ZeRO-3 (the resize under zero.Init), and the
non-finite-step guard under ZeRO-2, where DeepSpeed steps inside backward. One torchrun launch runs all three
(tests/_gpu_route_worker.py); the meta-device resize is also checked in one process."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
import torch
from _nopad_base import base_without_pad
from _shared import torchrun
from trl import ModelConfig

from tulu_recipes.chat_templates import load_chat_template
from tulu_recipes.stages import loading

pytest.importorskip("deepspeed")


@pytest.fixture(scope="module")
def route(tmp_path_factory, repo_root, quickstart_dir):
    work = tmp_path_factory.mktemp("route")
    (work / "recipes").mkdir()
    text = (quickstart_dir / "sft.yaml").read_text().replace("./", f"{quickstart_dir}/")
    (work / "recipes" / "sft.yaml").write_text(text.replace("fraction: 1.0", "count: 48"))
    base_without_pad(work / "nopad")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=f"{repo_root}{os.pathsep}{repo_root / 'tests'}")
    cmd = [*torchrun(), str(Path(__file__).with_name("_gpu_route_worker.py")), str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work, json.loads((work / "route_result.json").read_text())


def test_fsdp_loading_step_grows_the_embedding_on_every_process(route):
    _, result = route
    assert result["world_size"] == 2
    fsdp = result["fsdp"]
    # 437 tokens + <pad> = 438, padded to a multiple of 8 as the release did; <pad> is the new last token
    assert (fsdp["rows"], fsdp["pad_id"], fsdp["config_pad"]) == (440, 437, 437)
    assert fsdp["pad_row_finite"] is True  # rank 0 holds the weights the others receive when wrapped


def test_zero3_sft_from_a_base_without_pad_through_accelerates_environment(route):
    work, result = route
    z3 = result["zero3"]
    assert z3["deepspeed"] is True and z3["stage"] == 3
    # loaded under zero.Init from the environment's config, then grown from 437 rows to 440
    assert z3["zero3_init"] is True and z3["partitioned_before"] is True
    assert (z3["rows_before"], z3["rows_after"]) == (437, 440)
    assert z3["partitioned_after_training"] is True
    (first, second) = z3["embedding_sums"]
    assert first == second and all(math.isfinite(v) for v in first)  # one model on both processes
    assert len(z3["losses"]) == 2 and all(math.isfinite(v) for v in z3["losses"])
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    saved = load_file(str(work / "sft_z3" / "model.safetensors"))
    assert saved["model.embed_tokens.weight"].shape == (440, 128)
    assert torch.isfinite(saved["model.embed_tokens.weight"]).all()
    assert AutoTokenizer.from_pretrained(work / "sft_z3").pad_token_id == 437


def test_nonfinite_guard_counts_steps_deepspeed_skipped(route):
    _, result = route
    nan = result["zero2_nan"]
    # step 1 finite; NaN from step 2: DeepSpeed skips steps 2 and 3, and the guard stops the run at the second
    assert nan["error"] is not None and nan["error"].startswith("aborting at step 3: 2 optimizer steps in a row")
    assert (nan["skipped"], nan["consecutive"]) == (2, 2)
    sums = {int(k): v for k, v in nan["checksums"].items()}
    assert sums[1] == sums[2] == sums[3]  # the skipped steps left the weights alone
    assert sorted(sums) == [1, 2, 3]


def test_resize_on_the_meta_device(monkeypatch, tiny_base, tmp_path):
    """What FSDP's cpu-RAM-efficient loading gives every process but the first: a model without values."""
    from transformers import AutoConfig, AutoModelForCausalLM

    nopad = base_without_pad(tmp_path / "nopad")

    def on_meta(path, **kwargs):
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path))

    monkeypatch.setattr(loading.AutoModelForCausalLM, "from_pretrained", on_meta)
    args = ModelConfig(model_name_or_path=str(nopad), dtype="float32")
    tokenizer = loading.load_tokenizer(args, load_chat_template("tulu"), True)
    model = loading.load_model(args, tokenizer)
    weight = model.get_input_embeddings().weight
    assert weight.device.type == "meta" and tuple(weight.shape) == (440, 128)
    assert model.config.pad_token_id == tokenizer.pad_token_id == 437
