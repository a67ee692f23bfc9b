"""Checks a stage runs right after parsing its recipe, so a mistake stops it in one line before any model loads.

transformers reports a missing local model folder as `OSError: Repo id must be in the form ...` (it takes the
path for a Hub id), a Hub model while offline as a long retry trace, and the Trainer checks
`resume_from_checkpoint` only once the model is loaded. `check_model_source` and `check_resume` say what is
wrong with the recipe's value instead, raising `RecipeError` (exit 2 through `run_cli`).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from tulu_recipes.config import RecipeError
from tulu_recipes.data.file_checks import hub_offline
from tulu_recipes.stages.attention import check_attention

logger = logging.getLogger("tulu_recipes")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_MODEL_FILES = ("config.json", "adapter_config.json")
_TRUE = ("true", "latest", "yes")
_FALSE = ("", "false", "no")


def check_model_source(value: str | None, key: str = "model_name_or_path") -> None:
    """A local model folder must exist and hold a config; a Hub id needs the Hub, or the local cache offline."""
    if not value:
        return
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir() or not any((path / name).is_file() for name in _MODEL_FILES):
            raise RecipeError(f"`{key}`: {value} is not a model folder (it has no config.json)")
        return
    if path.is_absolute() or value.startswith((".", "~")) or not _HUB_ID.match(value):
        raise RecipeError(f"`{key}`: {value} does not exist (no such model folder, and it is not a Hub id)")
    if hub_offline() and not _in_hub_cache(value):
        raise RecipeError(
            f"`{key}`: {value} is a Hub model, but the Hub is offline (HF_HUB_OFFLINE=1) and it is not in the "
            f"local cache; download it while online (`hf download {value}`) or set `{key}` to a local folder"
        )


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(repo_id, name), str) for name in _MODEL_FILES)


def check_resume(value: Any, output_dir: str | None) -> None:
    """An explicit `resume_from_checkpoint` folder must be a complete checkpoint (`true` is checked at train time)."""
    if value is None or isinstance(value, bool) or str(value).strip().lower() in _TRUE + _FALSE:
        return
    from tulu_recipes.trainers.fault_tolerance import resolve_resume

    try:
        resolve_resume(value, output_dir or ".")
    except (FileNotFoundError, ValueError) as err:
        raise RecipeError(str(err)) from None


def check_stage(model_args: Any, training_args: Any, *model_keys: tuple[str, str | None]) -> None:
    """The model paths a stage loads and the checkpoint it resumes from, before anything is loaded."""
    check_model_source(getattr(model_args, "model_name_or_path", None))
    check_attention(getattr(model_args, "attn_implementation", None))
    for key, value in model_keys:
        check_model_source(value, key)
    check_resume(getattr(training_args, "resume_from_checkpoint", None), getattr(training_args, "output_dir", None))
    check_adapter_start(model_args)
    check_reporting(getattr(training_args, "report_to", None))
    check_world_size()


def check_adapter_start(model_args: Any) -> None:
    """A LoRA adapter folder (adapter_config.json, no config.json) is no full model: training it needs PEFT."""
    value = getattr(model_args, "model_name_or_path", None)
    path = Path(value).expanduser() if value else None
    if path is None or not path.is_dir() or (path / "config.json").is_file():
        return
    if (path / "adapter_config.json").is_file() and not getattr(model_args, "use_peft", False):
        raise RecipeError(
            f"`model_name_or_path`: {value} is a LoRA adapter (adapter_config.json, no config.json), not a full "
            "model; set `use_peft: true` to train from it with LoRA, or merge it into its base model first "
            "(PEFT's `merge_and_unload`) and start from the merged folder"
        )


def check_reporting(report_to: Any) -> None:
    """Every `report_to` integration must be installed (transformers would fail once the trainer is built)."""
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    wanted = [report_to] if isinstance(report_to, str) else list(report_to or [])
    available = set(get_available_reporting_integrations())
    for name in wanted:
        if name in ("none", "all") or name not in INTEGRATION_TO_CALLBACK or name in available:
            continue
        raise RecipeError(
            f"`report_to`: {name} is not installed (pip install {name}); install it or set `report_to: none`"
        )


def check_world_size(env: dict[str, str] | None = None) -> int:
    """Warn when the launcher asked for more processes than run; returns the actual world size.

    Asked = `ACCELERATE_NUM_PROCESSES` (or `NUM_PROCESSES`) when set. `accelerate launch --cpu --num_processes N`
    sets neither and starts ONE process, but leaves a rendezvous address (`MASTER_ADDR`) without a `WORLD_SIZE`.
    """
    env = os.environ if env is None else env
    world = int(env.get("WORLD_SIZE", "") or 1)
    asked = next((int(env[n]) for n in ("ACCELERATE_NUM_PROCESSES", "NUM_PROCESSES") if env.get(n, "").isdigit()), None)
    single = "ACCELERATE_USE_CPU" in env and "MASTER_ADDR" in env and "WORLD_SIZE" not in env
    if (asked is not None and asked != world) or (asked is None and single):
        logger.warning(
            "Asked for %s processes, but this run has world size %d (`accelerate launch --cpu --num_processes N` "
            "starts one process). On CPU run `torchrun --nproc_per_node N -m tulu_recipes.stages.<stage> "
            "recipe.yaml` instead.",
            asked or "several",
            world,
        )
    return world
