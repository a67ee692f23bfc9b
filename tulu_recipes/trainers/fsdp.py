"""FSDP2 (`torch.distributed.fsdp.fully_shard`) for PPO's two trainable models: policy and value model.

accelerate wires FSDP2 for one model per `Accelerator` and only on accelerators, and TRL's RLOO machinery prepares
the policy alone, so the value model's sharding is done here, with PyTorch's own API (no hand-written sharding):
every decoder layer (the model's `_no_split_modules`) is one shard unit, then the root holds the rest (embeddings,
norm, heads; a tied LM head stays one parameter). Parameters become `DTensor`s sharded on dim 0 over the mesh;
gradients are reduce-scattered (averaged) in backward, so an optimizer and `clip_grad_norm_` over the sharded
parameters give the data-parallel update. `full_state_dict` gathers them on rank 0 for saving.

Tested on 2 CPU processes with gloo (tests/test_ppo_fsdp.py: sharding and two PPO optimizer steps equal the
1-process run); the end-to-end FSDP PPO run on GPUs (`accelerate_configs/fsdp.yaml`) is prepared, not run here.
"""

from __future__ import annotations

import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard


def shard_model(
    model: torch.nn.Module,
    mesh=None,
    reshard_after_forward: bool = True,
    mp_policy: MixedPrecisionPolicy | None = None,
) -> torch.nn.Module:
    """Apply `fully_shard` to each decoder layer of `model` and then to `model` itself (in place; returned)."""
    layer_classes = set(getattr(model, "_no_split_modules", None) or [])
    if not layer_classes:
        raise ValueError(f"{type(model).__name__} names no `_no_split_modules` to shard layer by layer")
    kwargs = {"mesh": mesh, "reshard_after_forward": reshard_after_forward}
    if mp_policy is not None:
        kwargs["mp_policy"] = mp_policy
    layers = [m for m in model.modules() if type(m).__name__ in layer_classes]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no module of class {sorted(layer_classes)}")
    for layer in layers:
        fully_shard(layer, **kwargs)
    fully_shard(model, **kwargs)
    return model


def shard_policy_and_value(
    policy: torch.nn.Module, value_model: torch.nn.Module, mesh=None, mp_policy: MixedPrecisionPolicy | None = None
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Shard the policy and the value model separately (they share no parameter; each keeps its own optimizer)."""
    return shard_model(policy, mesh, mp_policy=mp_policy), shard_model(value_model, mesh, mp_policy=mp_policy)


def full_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The gathered (unsharded) state dict on rank 0's CPU, for saving; other ranks get `{}` (call it on all)."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
