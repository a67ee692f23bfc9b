"""DeepSpeed setup for the stages, and the fp32-master-weights rule every trained model is loaded under.

**DeepSpeed on an already started process group.** A recipe with `use_cpu: true` (or any launch where
`TrainingArguments` starts `torch.distributed` itself, e.g. gloo under `torchrun`) never initializes DeepSpeed's
own communication layer (`deepspeed.comm`): transformers' `_setup_devices` only asks accelerate for a DeepSpeed
state on accelerators. The stages then load the model *after* `TrainingArguments` exist, so a ZeRO-3 config makes
`from_pretrained` build the model under `deepspeed.zero.Init`, whose `DeepSpeedConfig` reads the world size from
the uninitialized `deepspeed.comm`, gets 1, and fails the batch-size check (`16 != 8 * 1 * 1`). A plain `Trainer`
script usually loads its model before the arguments and so never meets `zero.Init`. `setup_distributed` hands
the live process group to `deepspeed.init_distributed` (which wraps it instead of starting another), so zero.Init
partitions across the real world size. Nothing in transformers, accelerate or TRL does this for a CPU launch.

**fp32 master weights.** A plain optimizer (AdamW) stepping bf16 weights loses every update smaller than the
weight's bf16 spacing: at lr 3e-7 almost no parameter moves. So a model that is trained, and whose recipe asks
for `dtype: bfloat16`/`float16` (or `auto`, which is bf16 for Llama 3.1), is loaded as follows:

- under DeepSpeed with its bf16/fp16 mode on: in the recipe's dtype; DeepSpeed keeps fp32 master weights (and
  fp32 Adam state) in its optimizer and steps those (ZeRO-3's `zero.Init` builds the bf16 shards itself);
- otherwise (one device, DDP, FSDP): in **float32**, trained under the recipe's `bf16: true` autocast (FSDP2: its
  mixed-precision policy computes in bf16 and keeps the fp32 shards); a half-precision `dtype` with neither
  `bf16` nor `fp16` on is refused, since it could only mean stepping half-precision weights;
- with LoRA (`use_peft`): in the recipe's dtype: the base stays frozen and PEFT keeps adapters in fp32.

Memory: fp32 weights cost 4 bytes per parameter instead of 2, on top of fp32 gradients (4) and AdamW's two fp32
moments (8): 16 bytes per parameter (8B: 128 GB) before activations, against 8 for bf16 weights with bf16 Adam
state, which is what made the bf16 path "fit" while it silently did not train. Under DeepSpeed the total is about
the same (2 bf16 weights + 2 bf16 grads + 12 fp32 master and Adam) but sharded over the GPUs: see
`benchmarks/memory.py`. Models that are only evaluated (references, reward models) keep the recipe's dtype.

`trainable_dtype` decides, `check_master_weights` asserts it on a loaded model; both are meant for the PPO
value model too.
"""

from __future__ import annotations

import atexit
from typing import Any

import torch

from tulu_recipes.config import RecipeError

HALF = {"bfloat16": torch.bfloat16, "float16": torch.float16, "half": torch.float16}


def uses_deepspeed(training_args: Any) -> bool:
    """A DeepSpeed run: `--deepspeed <json>` or an `accelerate launch` with a DeepSpeed config."""
    plugin = getattr(training_args, "deepspeed_plugin", None)
    return bool(getattr(training_args, "deepspeed", None)) or plugin is not None


def deepspeed_config(training_args: Any) -> dict[str, Any]:
    """The DeepSpeed config dict the run uses ("auto" values as transformers filled them), or {}."""
    hf_config = getattr(training_args, "hf_deepspeed_config", None)
    if hf_config is None and getattr(training_args, "deepspeed_plugin", None) is not None:
        hf_config = training_args.deepspeed_plugin.hf_ds_config
    return dict(getattr(hf_config, "config", None) or {})


def deepspeed_mixed_precision(training_args: Any) -> str | None:
    """ "bf16"/"fp16" when DeepSpeed runs its own mixed precision (fp32 master weights), else None."""
    if not uses_deepspeed(training_args):
        return None
    config = deepspeed_config(training_args)
    for name in ("bf16", "fp16"):
        enabled = (config.get(name) or {}).get("enabled", False)
        if enabled is True or (enabled == "auto" and getattr(training_args, name, False)):
            return name
    return None


def zero_stage(training_args: Any) -> int:
    """The ZeRO stage of a DeepSpeed run (0 without DeepSpeed)."""
    if not uses_deepspeed(training_args):
        return 0
    return int((deepspeed_config(training_args).get("zero_optimization") or {}).get("stage", 0) or 0)


_exit_hook_registered = False


def _destroy_process_group_at_exit() -> None:
    """Tear the process group down before the interpreter exits.

    Left to interpreter shutdown, gloo's threads can be destroyed while still joinable, and a rank that has
    already saved its model aborts with `terminate called without an active exception` (exit 1 in 3 of 13
    `torchrun --nproc_per_node 2` runs). No barrier: a rank that failed must not leave the others waiting.
    """
    global _exit_hook_registered
    import torch.distributed as dist

    if _exit_hook_registered or not (dist.is_available() and dist.is_initialized()):
        return

    def destroy() -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    atexit.register(destroy)
    _exit_hook_registered = True


def setup_distributed(training_args: Any) -> None:
    """Start the process group (as `TrainingArguments` would) and, for DeepSpeed, bind `deepspeed.comm` to it.

    Call right after parsing the recipe, before any model is loaded (ZeRO-3 builds models under zero.Init).
    """
    _ = training_args.world_size  # transformers' device setup: creates accelerate's PartialState / process group
    _destroy_process_group_at_exit()
    if not uses_deepspeed(training_args):
        return
    import deepspeed
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and not deepspeed.comm.is_initialized():
        deepspeed.init_distributed(dist_backend=dist.get_backend(), auto_mpi_discovery=False, verbose=False)


def trainable_dtype(requested: str | torch.dtype | None, training_args: Any, peft: bool = False) -> Any:
    """The dtype to load a model that will be trained with (see the module docstring); raises RecipeError when the
    recipe asks for half-precision weights without any mixed precision that keeps fp32 master weights."""
    name = str(requested).removeprefix("torch.") if requested is not None else None
    if name not in HALF and name != "auto":
        return getattr(torch, name) if isinstance(name, str) and hasattr(torch, name) else requested
    if peft or deepspeed_mixed_precision(training_args) is not None:
        return HALF.get(name, "auto")
    if name in HALF and not (getattr(training_args, "bf16", False) or getattr(training_args, "fp16", False)):
        raise RecipeError(
            f"dtype: {name} with bf16: false and fp16: false would step {name} weights with a plain optimizer "
            "(updates below the weights' precision are lost); set `bf16: true` (fp32 weights under bf16 autocast) "
            "or `dtype: float32`"
        )
    return torch.float32


def check_master_weights(model: torch.nn.Module, training_args: Any, what: str = "model") -> None:
    """Refuse a model whose trainable parameters are half precision unless DeepSpeed's mixed precision steps them
    through fp32 master weights."""
    if deepspeed_mixed_precision(training_args) is not None:
        return
    half = [n for n, p in model.named_parameters() if p.requires_grad and p.dtype in (torch.bfloat16, torch.float16)]
    if half:
        raise RecipeError(
            f"the {what} has {len(half)} trainable half-precision parameters (e.g. {half[0]}); a plain optimizer "
            "needs fp32 master weights: load it with `trainable_dtype(...)` (float32, trained under bf16 autocast)"
        )


def gather_weights_on_save(engine: Any) -> None:
    """Make a ZeRO-3 engine gather the full weights when the model is saved, whatever its JSON says.

    Without `stage3_gather_16bit_weights_on_model_save`, transformers' `save_model` writes only DeepSpeed's sharded
    `global_step*` states: a run that finishes without loadable weights. The flag only matters at save time (its
    cost is one gather per save), so the final save always sets it.
    """
    if engine is not None and engine.zero_optimization_partition_weights():
        engine._config.zero_config.gather_16bit_weights_on_model_save = True
