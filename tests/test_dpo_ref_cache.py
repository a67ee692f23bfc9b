"""Persisted reference log-probs: reused when every input is the same, recomputed when one that matters changes."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from datasets import Dataset
from trl import DPOTrainer, ModelConfig

from tulu_recipes.chat_templates import load_chat_template
from tulu_recipes.stages.loading import load_model, load_tokenizer
from tulu_recipes.trainers.dpo import TuluDPOConfig, TuluDPOTrainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    return load_tokenizer(ModelConfig(model_name_or_path=str(tiny_base)), load_chat_template("tulu"), training=False)


@pytest.fixture(scope="module")
def base(tiny_base, tokenizer):
    torch.manual_seed(0)
    return load_model(ModelConfig(model_name_or_path=str(tiny_base), dtype="float32"), tokenizer)


@pytest.fixture(scope="module")
def rows(quickstart_dir) -> list[dict]:
    lines = (quickstart_dir / "data" / "preferences.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    return [json.loads(line) for line in lines]


@pytest.fixture
def ref_passes(monkeypatch) -> list[int]:
    """Number of reference forward passes (batches) made by the trainers built in a test."""
    count = [0]

    def counting(self, model, inputs):
        count[0] += 1
        return DPOTrainer.compute_ref_log_probs(self, model, inputs)

    monkeypatch.setattr(TuluDPOTrainer, "compute_ref_log_probs", counting)
    return count


def build(model, tokenizer, data, cache_dir, tmp_path, **kw):
    args = TuluDPOConfig(
        output_dir=str(tmp_path / "out"),
        ref_logprobs_cache_dir=str(cache_dir),
        use_cpu=True,
        bf16=False,
        report_to="none",
        per_device_train_batch_size=4,
        gradient_checkpointing=False,
        disable_tqdm=True,
        **{"max_length": 128, **kw},
    )
    return TuluDPOTrainer(
        model=copy.deepcopy(model), args=args, train_dataset=Dataset.from_list(data), processing_class=tokenizer
    )


def ref_columns(trainer) -> tuple[list[float], list[float]]:
    ds = trainer.train_dataset
    return list(ds["ref_chosen_logps"]), list(ds["ref_rejected_logps"])


def test_rerun_reuses_and_changed_inputs_recompute(tmp_path, base, tokenizer, rows, ref_passes):
    cache = tmp_path / "ref_logprobs"
    first = build(base, tokenizer, rows, cache, tmp_path)
    assert ref_passes[0] == 3  # 12 pairs / batch 4
    files = sorted(cache.glob("*.pt"))
    assert len(files) == 1
    meta = json.loads(files[0].with_suffix(".json").read_text())
    assert meta["rows"] == 12 and meta["max_length"] == 128 and meta["split"] == "train"

    # Same reference, data and tokenization; unrelated settings differ (TRL's own cache would recompute here).
    ref_passes[0] = 0
    again = build(base, tokenizer, rows, cache, tmp_path, learning_rate=1e-3, logging_steps=3)
    assert ref_passes[0] == 0
    assert ref_columns(again) == ref_columns(first)

    # One pair's chosen answer changed: a different dataset, recomputed, saved under a second key.
    changed = copy.deepcopy(rows)
    changed[7]["chosen"][0]["content"] = "1 + 1 = 2. The answer is 2."
    ref_passes[0] = 0
    other = build(base, tokenizer, changed, cache, tmp_path)
    assert ref_passes[0] == 3
    assert len(list(cache.glob("*.pt"))) == 2
    c_first, c_other = ref_columns(first)[0], ref_columns(other)[0]
    # summed fp32 log-probs of tens of tokens: relative 1e-5 (an absolute 1e-6 is below one ulp at |x| > 8)
    assert c_other[7] != pytest.approx(c_first[7], rel=1e-5)
    assert c_other[:7] == pytest.approx(c_first[:7], rel=1e-5)


@pytest.mark.parametrize("truncation_mode", ["keep_start", "keep_end"])
def test_changed_truncation_recomputes(tmp_path, base, tokenizer, rows, ref_passes, truncation_mode):
    cache = tmp_path / "ref_logprobs"
    long = build(base, tokenizer, rows, cache, tmp_path, truncation_mode=truncation_mode)
    ref_passes[0] = 0
    short = build(base, tokenizer, rows, cache, tmp_path, truncation_mode=truncation_mode, max_length=36)
    # TRL's datasets cache ignores max_length under keep_end (the collator truncates after fingerprinting).
    assert ref_passes[0] == 3
    assert ref_columns(short) != ref_columns(long)


def test_changed_reference_weights_recompute(tmp_path, base, tokenizer, rows, ref_passes):
    cache = tmp_path / "ref_logprobs"
    build(base, tokenizer, rows, cache, tmp_path)
    moved = copy.deepcopy(base)
    with torch.no_grad():
        next(moved.parameters()).add_(1e-3)
    ref_passes[0] = 0
    build(moved, tokenizer, rows, cache, tmp_path)
    assert ref_passes[0] == 3
    assert len(list(cache.glob("*.pt"))) == 2


def test_the_cache_key_includes_the_precision(tmp_path, base, tokenizer, rows):
    """Reference log-probs computed under bf16 or fp16 autocast differ from fp32 ones, so a run that switches
    precision must not reuse the other's cache: each setting gives its own key."""
    from tulu_recipes.trainers import ref_cache

    trainer = build(base, tokenizer, rows, tmp_path / "ref_logprobs", tmp_path)
    keys = set()
    for bf16, fp16 in [(False, False), (True, False), (False, True)]:
        trainer.args.bf16, trainer.args.fp16 = bf16, fp16
        keys.add(ref_cache.cache_key(trainer.ref_cache_parts(trainer.train_dataset)))
    assert len(keys) == 3
