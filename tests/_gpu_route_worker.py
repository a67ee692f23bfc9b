"""Run under `torchrun --nproc_per_node 2` by tests/test_gpu_route.py (gloo, CPU): the launch route of every GPU
recipe, `accelerate launch --config_file accelerate_configs/<x>.yaml`, reproduced by setting the environment
accelerate derives from that file (accelerate's own launch code computes it), from a base without a pad token.

1. FSDP (accelerate_configs/fsdp.yaml, cpu-RAM-efficient loading): the loading step, which adds `<pad>` and grows
   the embedding on every process.
2. ZeRO-3 (deepspeed_zero3.yaml, zero3_init_flag): SFT from the base, the resize under zero.Init.
3. ZeRO-2 (deepspeed_zero2.yaml): SFT with a NaN loss planted from the second optimizer step; the guard must stop
   the run after `max_nonfinite_steps` steps DeepSpeed skipped, and the skipped steps must not move the weights.

argv: WORK (recipes/sft.yaml, nopad/). Rank 0 writes WORK/route_result.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

REPO = Path(__file__).resolve().parents[1]


def accelerate_env(config_file: str, num_processes: int = 2) -> dict[str, str]:
    """The variables `accelerate launch --config_file FILE` sets for its processes (beyond what torchrun set)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    args = launch_command_parser().parse_args(
        ["--config_file", config_file, "--num_processes", str(num_processes), "x.py"]
    )
    args, defaults, mixed_precision_from_config = _validate_launch_command(args)
    if args.use_deepspeed:
        fields = list(defaults.deepspeed_config.keys()) if defaults else []
        if mixed_precision_from_config:
            fields.append("mixed_precision")
        args.deepspeed_fields_from_accelerate_config = ",".join(fields)
        _, env = prepare_deepspeed_cmd_env(args)
    else:
        env = prepare_multi_gpu_env(args)
    keep = ("ACCELERATE_", "FSDP_")
    derived = {k: v for k, v in env.items() if k.startswith(keep)}
    derived["ACCELERATE_MIXED_PRECISION"] = "no"  # CPU: the YAML's bf16 is for GPUs
    return derived


class env_set:
    """Set variables for a block, then remove them (one process runs the three launches in turn)."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    def __enter__(self):
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for key in self.values:
            os.environ.pop(key, None)


def fsdp_loading(work: Path) -> dict:
    from trl import ModelConfig

    from tulu_recipes.chat_templates import load_chat_template
    from tulu_recipes.stages.loading import load_model, load_tokenizer

    with env_set(accelerate_env("accelerate_configs/fsdp.yaml")):
        args = ModelConfig(model_name_or_path=str(work / "nopad"), dtype="float32")
        tokenizer = load_tokenizer(args, load_chat_template("tulu"), True)
        model = load_model(args, tokenizer)
    weight = model.get_input_embeddings().weight
    pad_row = weight[tokenizer.pad_token_id] if weight.device.type != "meta" else None
    return {
        "rows": weight.shape[0],
        "device": weight.device.type,
        "pad_id": tokenizer.pad_token_id,
        "config_pad": model.config.pad_token_id,
        "pad_row_finite": None if pad_row is None else bool(torch.isfinite(pad_row).all()),
    }


def sft_argv(work: Path, out: str, *extra: str) -> list[str]:
    return [
        str(work / "recipes" / "sft.yaml"),
        "--model_name_or_path",
        str(work / "nopad"),
        "--output_dir",
        str(work / out),
        "--per_device_train_batch_size",
        "4",
        "--logging_steps",
        "1",
        "--disable_tqdm",
        "true",
        "--save_strategy",
        "no",
        *extra,
    ]


def zero3_sft(work: Path) -> dict:
    import deepspeed
    from transformers import PreTrainedModel
    from transformers.integrations import is_deepspeed_zero3_enabled

    from tulu_recipes.stages import sft

    seen = {}
    resize = PreTrainedModel.resize_token_embeddings

    def spy(self, *args, **kwargs):
        weight = self.get_input_embeddings().weight
        seen["zero3_init"] = is_deepspeed_zero3_enabled()  # accelerate's weakref config is active at load time
        seen["partitioned_before"] = hasattr(weight, "ds_id")
        seen["rows_before"] = list(getattr(weight, "ds_shape", weight.shape))[0]
        out = resize(self, *args, **kwargs)
        seen["rows_after"] = self.get_input_embeddings().weight.shape[0]
        return out

    PreTrainedModel.resize_token_embeddings = spy
    try:
        with env_set(accelerate_env("accelerate_configs/deepspeed_zero3.yaml")):
            trainer = sft.main(sft_argv(work, "sft_z3", "--max_steps", "2"))
    finally:
        PreTrainedModel.resize_token_embeddings = resize
    plugin = trainer.accelerator.state.deepspeed_plugin
    module = getattr(trainer.model_wrapped, "module", trainer.model_wrapped)
    weight = module.get_input_embeddings().weight
    with deepspeed.zero.GatheredParameters([weight]):
        local = [float(weight.double().sum()), float(weight[-3:].double().abs().sum())]
    every = [None] * dist.get_world_size()
    dist.all_gather_object(every, local)  # the grown rows must be the same model on every process
    return {
        **seen,
        "partitioned_after_training": hasattr(weight, "ds_id"),
        "embedding_sums": every,
        "deepspeed": trainer.is_deepspeed_enabled,
        "stage": plugin.zero_stage if plugin else None,
        "losses": [float(h["loss"]) for h in trainer.state.log_history if "loss" in h],
    }


def zero2_nan_guard(work: Path) -> dict:
    from transformers import TrainerCallback

    from tulu_recipes.stages import sft, skeleton
    from tulu_recipes.trainers import fault_tolerance

    calls = {"n": 0}

    def poison(module, inputs, out):
        if module.training:
            calls["n"] += 1
            if calls["n"] >= 2:  # every training forward from the second step on
                for name, value in list(out.items()):  # loss, logits, or TRL's fused-head log_probs
                    if torch.is_tensor(value) and value.is_floating_point():
                        out[name] = value * float("nan")
        return out

    checksums: dict[int, float] = {}

    class Weights(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            model.register_forward_hook(poison)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            with torch.no_grad():
                checksums[state.global_step] = float(sum(p.double().sum() for p in model.parameters()))

    guards = []
    callbacks = fault_tolerance.fault_tolerance_callbacks

    def with_spy(max_steps):
        found = callbacks(max_steps)
        guards.extend(c for c in found if isinstance(c, fault_tolerance.NonFiniteGuardCallback))
        return [Weights(), *found]

    skeleton.fault_tolerance_callbacks = with_spy  # where the stages build their callbacks
    error = None
    try:
        with env_set(accelerate_env("accelerate_configs/deepspeed_zero2.yaml")):
            sft.main(sft_argv(work, "sft_z2_nan", "--max_steps", "6", "--max_nonfinite_steps", "2"))
    except fault_tolerance.NonFiniteStepError as err:
        error = str(err)
    finally:
        skeleton.fault_tolerance_callbacks = callbacks
    guard = guards[-1]
    return {"error": error, "skipped": guard.skipped, "consecutive": guard.consecutive, "checksums": checksums}


def main(work: Path) -> None:
    os.chdir(REPO)  # the accelerate YAMLs name their DeepSpeed JSONs relative to the repository root
    dist.init_process_group("gloo")
    result = {"world_size": dist.get_world_size(), "fsdp": fsdp_loading(work)}
    result["zero3"] = zero3_sft(work)
    result["zero2_nan"] = zero2_nan_guard(work)
    if dist.get_rank() == 0:
        (work / "route_result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
