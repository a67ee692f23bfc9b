"""`attn_implementation` checked when the recipe is parsed, so that loading the model never downloads a kernel.

transformers 5 answers `flash_attention_2` (or 3, 4) without the flash-attn package by fetching a kernel from the
Hub at load time (when the `kernels` package is present), which fails offline or on a torch/CUDA pair without a
build, and otherwise fails only after the data is loaded. The recipes default to `sdpa` (PyTorch's own fused
attention, same result up to rounding); flash-attention is an option for a machine with flash-attn installed.
A Hub kernel named as `org/repo` is an explicit download: allowed, unless the Hub is offline.
"""

from __future__ import annotations

import importlib.util

from tulu_recipes.config import RecipeError
from tulu_recipes.data.file_checks import hub_offline

BUILT_IN = ("eager", "sdpa", "flex_attention")
FLASH_INSTALL = {
    "flash_attention_2": "pip install flash-attn --no-build-isolation",
    "flash_attention_3": "flash-attn 3 (the hopper/ build of flash-attention)",
    "flash_attention_4": "pip install flash-attn-4",
}


def flash_available(name: str) -> bool:
    """Whether transformers finds the original flash-attention package of `name` and a device it runs on."""
    from transformers.modeling_flash_attention_utils import FLASH_ATTENTION_COMPATIBILITY_MATRIX

    version = int(name.rsplit("_", 1)[1])
    return bool(FLASH_ATTENTION_COMPATIBILITY_MATRIX[version]["general_availability_check"]())


def check_attention(value: str | None, key: str = "attn_implementation") -> None:
    """One-line `RecipeError` when `value` is not an implementation this machine has without a Hub download."""
    if value is None or value in BUILT_IN or value == "paged|eager":
        return
    if value in FLASH_INSTALL:
        if not flash_available(value):
            raise RecipeError(
                f"`{key}: {value}` is not available here (it needs {FLASH_INSTALL[value]} and a CUDA GPU; without "
                "them transformers would download a kernel from the Hub at load time); use `sdpa` or install it"
            )
        return
    if "/" in value:
        if importlib.util.find_spec("kernels") is None:
            raise RecipeError(
                f"`{key}: {value}` is a Hub kernel, which needs the `kernels` package (pip install kernels)"
            )
        if hub_offline():
            raise RecipeError(f"`{key}: {value}` is a Hub kernel, but the Hub is offline (HF_HUB_OFFLINE=1)")
        return
    raise RecipeError(
        f"`{key}`: unknown implementation {value!r}; use one of {', '.join(BUILT_IN + tuple(FLASH_INSTALL))} or a "
        "Hub kernel `org/repo`"
    )
