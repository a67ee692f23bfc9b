"""bf16 on CPUs: whether the CPU has bf16 instructions, and what a recipe with `bf16: true` gets on one without.

accelerate already trains CPU runs with `bf16: true` under `torch.autocast("cpu", bfloat16)`: it wraps the policy's
and the reference's `forward` (fp32 weights, bf16 matmuls), so every stage keeps fp32 master weights on CPU as on
GPU, and TRL's sampling with `generate` runs through the same wrapped forward. What no library does is ask whether
the CPU can run bf16 fast: oneDNN emulates bf16 matmuls on CPUs without AVX512-BF16 or AMX, several times slower
than fp32. `check_cpu_bf16` turns `bf16: true` off there with a one-line warning (or refuses the recipe when
`require_cpu_bf16: true`), before any model loads. The PPO value model, which accelerate does not prepare, is run
under the same autocast by `TuluPPOTrainer`; the sampler's log-probs and the mismatch are `trainers.mismatch`.
`torch_threads` (a recipe field) sets torch's CPU threads before any model loads. Which count is faster depends on the
neighbours (benchmarks/rlvr_throughput.py, SmolLM2 GRPO, bf16): on 2 idle cores two threads ran a step 1.8x faster
than one, beside one busy core one thread ran it 1.7x faster than two (a thread that waits for a busy core stalls
every matmul). `torch_threads: 0` picks at start: the cores this process may use minus the 1-minute load average,
rounded, at least 1.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Iterable
from typing import Any

import torch

logger = logging.getLogger("tulu_recipes")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86; ARM's flag is plain `bf16`


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_bf16_supported() -> bool:
    """True when the CPU runs bf16 matmuls in hardware (AVX512-BF16, AMX-BF16, or ARM's BF16 extension)."""
    if torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported():
        return True
    flags = _cpu_flags()
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "bf16" in flags
    return any(flag in flags for flag in BF16_FLAGS)


def runs_on_cpu(training_args: Any) -> bool:
    if getattr(training_args, "use_cpu", False):
        return True
    accelerator = getattr(torch, "accelerator", None)
    return accelerator is not None and not accelerator.is_available()


def check_cpu_bf16(configs: Iterable[Any]) -> None:
    """On a CPU without bf16 instructions, turn a recipe's `bf16: true` off with a one-line warning, or raise
    RecipeError when a config asks for `require_cpu_bf16: true`. Call before any model loads."""
    from tulu_recipes.config import RecipeError

    configs = list(configs)
    training_args = next((c for c in configs if hasattr(c, "bf16") and hasattr(c, "use_cpu")), None)
    if training_args is None or not training_args.bf16 or not runs_on_cpu(training_args):
        return
    if cpu_bf16_supported():
        return
    if any(getattr(c, "require_cpu_bf16", False) for c in configs):
        raise RecipeError(
            "require_cpu_bf16: true, but this CPU has no bf16 instructions (avx512_bf16 / amx_bf16 / ARM bf16); "
            "set `bf16: false` or drop `require_cpu_bf16`"
        )
    logger.warning("bf16: this CPU has no bf16 instructions (avx512_bf16 / amx_bf16); training in fp32 instead")
    training_args.bf16 = False
    if getattr(training_args, "mixed_precision", None) == "bf16":
        training_args.mixed_precision = "no"


def idle_cores() -> int:
    """The cores this process may run on minus the 1-minute load average (rounded), at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores - round(os.getloadavg()[0]))


def apply_torch_threads(configs: Iterable[Any]) -> None:
    """`torch_threads: N` sets torch's CPU threads before any model loads; 0 picks the idle cores (below 0: error)."""
    from tulu_recipes.config import RecipeError

    for config in configs:
        threads = getattr(config, "torch_threads", None)
        if threads is None:
            continue
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
            raise RecipeError(f"torch_threads must be 0 (the idle cores) or a number of threads, got {threads!r}")
        if threads == 0:
            threads = idle_cores()
            logger.info("torch_threads: 0 -> %d thread(s) (1-minute load average %.2f)", threads, os.getloadavg()[0])
        torch.set_num_threads(threads)
