"""Per-GPU memory plan for the Tülu 3 8B/70B recipes under the shipped DeepSpeed configs.

    python benchmarks/memory.py [--gpu-gb 80]

Model states come from DeepSpeed's own estimators (`estimate_zero3_model_states_mem_needs`, the function behind
`estimate_zero3_model_states_mem_needs_all_cold`, and its ZeRO-2 sibling) for every *trained* model; frozen models
(PPO's reference) are bf16 ZeRO-3 shards plus one gathered layer. Activations are estimated at each recipe's
length and micro-batch with gradient checkpointing (bf16, FlashAttention, so no s^2 term):

    checkpointed layer inputs  L * b * s * h * 2 bytes
    one recomputed layer       b * s * (34 h) bytes                (Korthikanti et al. 2022, without the 5as^2 term)
    logits + loss              b * s * V * 10 bytes                (bf16 logits, fp32 log-softmax and its grad)

PPO's value model has a scalar head (no logits term), and its activations are alive together with the policy's:
the PPO loss runs both forwards before either backward, so the two add up.

The peer column is the same run without sharding (DDP: 16 bytes per trained parameter: fp32 weights, fp32 grads,
two fp32 Adam moments), what the stages would need on one device with fp32 master weights. Numbers are estimates
(allocator fragmentation, NCCL buffers and vLLM are not counted: in the release's PPO, vLLM runs on its own GPUs).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

GB = 1024**3


@dataclass(frozen=True)
class Llama:
    name: str
    params: float
    hidden: int
    layers: int
    vocab: int = 128_264  # Llama 3.1 + <pad>, padded to a multiple of 8 (the release's size)

    @property
    def largest_layer(self) -> int:
        return self.vocab * self.hidden  # the embedding (and the untied lm_head) is the largest module


LLAMA_8B = Llama("8B", 8.03e9, 4096, 32)
LLAMA_70B = Llama("70B", 70.55e9, 8192, 80)


@dataclass(frozen=True)
class Run:
    recipe: str
    config: str
    gpus: int
    trained: tuple[Llama, ...]
    frozen: tuple[Llama, ...]
    micro_batch: int  # sequences per forward on one GPU (a DPO pair is 2)
    seq: int


RUNS = [
    Run("tulu3-8b/sft.yaml", "ds_zero3.json", 64, (LLAMA_8B,), (), 1, 4096),
    Run("tulu3-70b/sft.yaml", "ds_zero3.json", 64, (LLAMA_70B,), (), 1, 4096),
    Run("tulu3-8b/dpo.yaml", "ds_zero3.json", 8, (LLAMA_8B,), (), 2, 2048),
    Run("tulu3-70b/dpo.yaml", "ds_zero3_offload.json", 64, (LLAMA_70B,), (), 2, 2048),
    # PPO: policy and value trained, reference frozen; 7 learner GPUs (8B) and 40 (70B) as in the release,
    # prompt up to 2048 plus 2048 response tokens; the value model of 70B PPO is the 8B reward model.
    Run("tulu3-8b/rlvr.yaml", "ds_zero3.json", 7, (LLAMA_8B, LLAMA_8B), (LLAMA_8B,), 4, 4096),
    Run("tulu3-70b/rlvr.yaml", "ds_zero3.json", 40, (LLAMA_70B, LLAMA_8B), (LLAMA_70B,), 2, 4096),
    Run("tulu3-8b/dpo.yaml", "ds_zero2.json", 8, (LLAMA_8B,), (), 2, 2048),
]


def model_states(model: Llama, config: str, gpus: int) -> int:
    """DeepSpeed's estimate for one trained model (bf16 weights, fp32 master weights and Adam state)."""
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    per_node = min(gpus, 8)
    nodes = max(1, gpus // 8)
    if config == "ds_zero2.json":
        return estimate_zero2_model_states_mem_needs(int(model.params), per_node, nodes, cpu_offload=False)[1]
    offload = config == "ds_zero3_offload.json"
    _, gpu, _ = estimate_zero3_model_states_mem_needs(
        int(model.params), model.largest_layer, per_node, nodes, cpu_offload=offload, cpu_offload_params=offload
    )
    return gpu


def frozen_states(model: Llama, gpus: int) -> int:
    return int(2 * model.params / gpus + 2 * model.largest_layer)


def activations(model: Llama, micro_batch: int, seq: int, logits: bool = True) -> int:
    tokens = micro_batch * seq
    head = tokens * model.vocab * 10 if logits else 0
    return int(model.layers * tokens * model.hidden * 2 + tokens * 34 * model.hidden + head)


def plan(run: Run) -> dict[str, float]:
    states = sum(model_states(m, run.config, run.gpus) for m in run.trained)
    frozen = sum(frozen_states(m, run.gpus) for m in run.frozen)
    policy, *value = run.trained  # PPO's value model (scalar head) runs its forward in the same loss as the policy
    acts = activations(policy, run.micro_batch, run.seq) + sum(
        activations(m, run.micro_batch, run.seq, logits=False) for m in value
    )
    ddp = sum(16 * m.params for m in run.trained) + sum(2 * m.params for m in run.frozen) + acts
    return {
        "states": states / GB,
        "frozen": frozen / GB,
        "acts": acts / GB,
        "total": (states + frozen + acts) / GB,
        "ddp": ddp / GB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpu-gb", type=float, default=80.0, help="GPU memory to check against (H100: 80)")
    args = parser.parse_args()
    header = (
        "recipe",
        "config",
        "GPUs",
        "trained states",
        "frozen",
        "activations",
        "total/GPU",
        "fits",
        "DDP peer/GPU",
    )
    rows = []
    for run in RUNS:
        p = plan(run)
        rows.append(
            (
                run.recipe,
                run.config,
                str(run.gpus),
                f"{p['states']:.1f} GB",
                f"{p['frozen']:.1f} GB",
                f"{p['acts']:.1f} GB",
                f"{p['total']:.1f} GB",
                "yes" if p["total"] < args.gpu_gb else "no",
                f"{p['ddp']:.0f} GB",
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"Per-GPU memory estimate (GPU of {args.gpu_gb:.0f} GB); peer: unsharded DDP with fp32 master weights")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
