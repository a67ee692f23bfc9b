"""fp32 master weights: a `dtype: bfloat16` recipe trains fp32 weights under bf16 autocast (or DeepSpeed's own
mixed precision), so tiny updates (lr 3e-7) are not rounded away; a half dtype without mixed precision is refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from tulu_recipes.config import RecipeError
from tulu_recipes.distributed import check_master_weights, deepspeed_mixed_precision, trainable_dtype, zero_stage


def _args(bf16=False, fp16=False, ds=None):
    hf = SimpleNamespace(config=ds) if ds is not None else None
    return SimpleNamespace(
        bf16=bf16,
        fp16=fp16,
        deepspeed="ds.json" if ds else None,
        hf_deepspeed_config=hf,
        deepspeed_plugin=None,
        fsdp="",
    )


ZERO3_AUTO = {"zero_optimization": {"stage": 3}, "bf16": {"enabled": "auto"}}


def test_trainable_dtype_rules():
    assert trainable_dtype("bfloat16", _args(bf16=True)) is torch.float32
    assert trainable_dtype("auto", _args(bf16=True)) is torch.float32  # Llama 3.1 "auto" is bf16 on disk
    assert trainable_dtype("float16", _args(fp16=True)) is torch.float32
    assert trainable_dtype("float32", _args()) is torch.float32
    assert trainable_dtype(None, _args()) is None
    # LoRA: the frozen base may stay bf16 (PEFT keeps adapters in fp32).
    assert trainable_dtype("bfloat16", _args(), peft=True) is torch.bfloat16
    # DeepSpeed with bf16 on keeps fp32 master weights itself; with bf16 "auto" that follows the recipe's bf16.
    assert trainable_dtype("bfloat16", _args(bf16=True, ds=ZERO3_AUTO)) is torch.bfloat16
    assert deepspeed_mixed_precision(_args(bf16=True, ds=ZERO3_AUTO)) == "bf16"
    assert deepspeed_mixed_precision(_args(bf16=False, ds=ZERO3_AUTO)) is None
    assert zero_stage(_args(ds=ZERO3_AUTO)) == 3 and zero_stage(_args()) == 0


@pytest.mark.parametrize("ds", [None, ZERO3_AUTO])
def test_half_dtype_without_mixed_precision_is_refused(ds):
    with pytest.raises(RecipeError, match=r"dtype: bfloat16 with bf16: false .* set `bf16: true`"):
        trainable_dtype("bfloat16", _args(bf16=False, ds=ds))


def test_check_master_weights_names_the_half_parameter():
    model = torch.nn.Linear(2, 2).to(torch.bfloat16)
    with pytest.raises(RecipeError, match=r"value model has 2 trainable half-precision parameters \(e.g. weight\)"):
        check_master_weights(model, _args(bf16=True), "value model")
    check_master_weights(model, _args(bf16=True, ds=ZERO3_AUTO))  # DeepSpeed's bf16 optimizer steps fp32 copies
    model.requires_grad_(False)
    check_master_weights(model, _args(bf16=True))  # frozen half weights are fine
    check_master_weights(torch.nn.Linear(2, 2), _args(bf16=True))


def _moved_fraction(out, tiny_base) -> tuple[float, set]:
    base = load_file(str(tiny_base / "model.safetensors"))
    trained = load_file(str(out / "model.safetensors"))
    moved = total = 0
    for name, tensor in trained.items():
        ref = base[name].to(tensor.dtype)  # the starting point as the run stored it (bf16-rounded for bf16 weights)
        if ref.shape != tensor.shape:  # the embedding grew by the <pad> row(s): compare the original rows
            tensor = tensor[: ref.shape[0]]
        moved += (tensor != ref).sum().item()
        total += ref.numel()
    return moved / total, {t.dtype for t in trained.values()}


def small_recipe(quickstart_dir, name: str, where, rows: int = 16):
    """A quickstart recipe on its first `rows` rows (absolute paths, so it can live in a temporary folder)."""
    text = (
        (quickstart_dir / name)
        .read_text()
        .replace("./", f"{quickstart_dir}/")
        .replace("fraction: 1.0", f"count: {rows}")
    )
    path = where / name
    path.write_text(text)
    return path


def _bf16_sft(quickstart_dir, out, *extra):
    from tulu_recipes.stages import sft as sft_stage

    return sft_stage.main(
        [
            str(small_recipe(quickstart_dir, "sft.yaml", out.parent)),
            "--output_dir",
            str(out),
            "--dtype",
            "bfloat16",
            "--bf16",
            "true",
            "--learning_rate",
            "3e-7",
            "--lr_scheduler_type",
            "constant",
            "--warmup_steps",
            "0",
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "8",
            "--logging_steps",
            "1",
            "--disable_tqdm",
            "true",
            *extra,
        ]
    )


def test_bf16_recipe_moves_all_parameters_at_lr_3e7(tmp_path, quickstart_dir, tiny_base, one_torch_thread, monkeypatch):
    trainer = _bf16_sft(quickstart_dir, tmp_path / "fp32")
    assert {p.dtype for p in trainer.model.parameters()} == {torch.float32}
    assert trainer.accelerator.mixed_precision == "bf16"  # computed under bf16 autocast
    fraction, dtypes = _moved_fraction(tmp_path / "fp32", tiny_base)
    assert fraction >= 0.99 and dtypes == {torch.float32}, fraction

    # The same two steps on bf16 weights (what the stages did before): almost nothing moves.
    from tulu_recipes.stages import loading, skeleton

    def bf16_weights(model_args, tokenizer, training_args=None, scalar_head=False):
        return loading.load_model(model_args, tokenizer)  # the recipe's dtype, no fp32 master weights

    monkeypatch.setattr(skeleton, "load_model", bf16_weights)
    _bf16_sft(quickstart_dir, tmp_path / "bf16")
    fraction_bf16, dtypes = _moved_fraction(tmp_path / "bf16", tiny_base)
    assert fraction_bf16 < 0.2 and dtypes == {torch.bfloat16}, fraction_bf16


STAGES = {
    "sft": ("sft.yaml", "TuluSFTTrainer"),
    "dpo": ("dpo.yaml", "TuluDPOTrainer"),
    "reward_model": ("reward_model.yaml", "RewardTrainer"),
    "rlvr": ("rlvr.yaml", "TuluPPOTrainer"),
}


class _Stop(Exception):
    pass


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_loads_fp32_weights_for_a_bf16_recipe(stage, tmp_path, quickstart_dir, tiny_base, monkeypatch):
    import importlib

    module = importlib.import_module(f"tulu_recipes.stages.{stage}")
    recipe, trainer_name = STAGES[stage]
    seen = {}

    def capture(*args, model=None, **kwargs):
        seen["dtypes"] = {p.dtype for p in model.parameters()}
        raise _Stop

    monkeypatch.setattr(module, trainer_name, capture)
    if stage == "rlvr":
        monkeypatch.setitem(module.ALGORITHMS, "ppo", (module.ALGORITHMS["ppo"][0], capture))
    argv = [
        str(small_recipe(quickstart_dir, recipe, tmp_path)),
        "--output_dir",
        str(tmp_path),
        "--model_name_or_path",
        str(tiny_base),
        "--dtype",
        "bfloat16",
        "--bf16",
        "true",
    ]
    with pytest.raises(_Stop):
        module.main(argv)
    assert seen["dtypes"] == {torch.float32}

    with pytest.raises(RecipeError, match="dtype: bfloat16 with bf16: false"):
        module.main([*argv[:-1], "false"])
