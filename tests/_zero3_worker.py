"""Run under `torchrun --nproc_per_node 2` by tests/test_zero3.py: the stages under DeepSpeed ZeRO-3 on CPU (gloo),
several checks in one launch (DeepSpeed's import and process-group start are the slow part).

argv: WORK (folder with recipes/, base/, base_b/, zero3.json). Rank 0 writes WORK/zero3_result.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist


def partition_sizes(trainer) -> dict[str, int]:
    """Full (ds_numel) and local (this rank's shard) element counts of the trained model's parameters."""
    module = getattr(trainer.model_wrapped, "module", trainer.model_wrapped)
    params = list(module.parameters())
    return {
        "partitioned": sum(hasattr(p, "ds_id") for p in params),
        "params": len(params),
        "full": sum(int(p.ds_numel) for p in params if hasattr(p, "ds_id")),
        "local": sum(int(p.ds_tensor.numel()) for p in params if hasattr(p, "ds_id")),
        "materialized": sum(p.numel() for p in params),  # released after the step: 0 elements held in p.data
    }


def completion_chars(prompts, completions, **kwargs) -> list[float]:
    """A reward that varies within a group (so GRPO's advantages are not all zero on an untrained model)."""
    return [float(len(c[-1]["content"] if isinstance(c, list) else c)) for c in completions]


def losses(trainer) -> list[float]:
    return [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]


def main(work: Path) -> None:
    from tulu_recipes.stages import dpo, reward_model, rlvr, sft

    ds = str(work / "zero3.json")
    common = ["--deepspeed", ds, "--logging_steps", "1", "--disable_tqdm", "true", "--save_strategy", "no"]
    result: dict = {}

    trainer = sft.main(
        [
            str(work / "recipes" / "sft.yaml"),
            "--model_name_or_path",
            str(work / "base"),
            "--output_dir",
            str(work / "sft_z3"),
            "--max_steps",
            "3",
            "--per_device_train_batch_size",
            "8",
            *common,
        ]
    )
    result["sft"] = {"losses": losses(trainer), "sizes": partition_sizes(trainer)}

    # ZeRO-2 (optimizer state and gradients sharded, parameters replicated): the same SFT run.
    zero2 = [c if c != ds else str(work / "zero2.json") for c in common]
    trainer = sft.main(
        [
            str(work / "recipes" / "sft.yaml"),
            "--model_name_or_path",
            str(work / "base"),
            "--output_dir",
            str(work / "sft_z2"),
            "--max_steps",
            "3",
            "--per_device_train_batch_size",
            "8",
            *zero2,
        ]
    )
    result["sft_zero2"] = {"losses": losses(trainer), "stage": trainer.accelerator.state.deepspeed_plugin.zero_stage}

    trainer = dpo.main(
        [
            str(work / "recipes" / "dpo.yaml"),
            "--model_name_or_path",
            str(work / "base"),
            "--output_dir",
            str(work / "dpo_z3"),
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "4",
            "--ref_logprobs_cache_dir",
            str(work / "cache_z3"),
            *common,
        ]
    )
    result["dpo"] = {
        "losses": losses(trainer),
        "sizes": partition_sizes(trainer),
        "weights_hash": trainer._precompute_model_hash,
    }

    # The reference cache key of two different checkpoints (same config) under ZeRO-3, and of A again.
    from trl.trainer.utils import hash_module

    hashes, trl_hashes = {}, {}
    for name in ("base_b", "base"):
        trainer = dpo.main(
            [
                str(work / "recipes" / "dpo.yaml"),
                "--model_name_or_path",
                str(work / name),
                "--output_dir",
                str(work / f"keys_{name}"),
                "--max_steps",
                "1",
                "--per_device_train_batch_size",
                "4",
                "--ref_logprobs_cache_dir",
                str(work / "cache_z3"),
                *common,
            ]
        )
        hashes[name] = trainer._precompute_model_hash
        trl_hashes[name] = hash_module(trainer.model)  # TRL's own hash of the ZeRO-3 model: empty partitions
    result["keys"] = {
        "hashes": hashes,
        "trl_hashes": trl_hashes,
        "files": sorted(p.name for p in (work / "cache_z3").glob("*.pt")),
    }

    trainer = rlvr.main(
        [
            str(work / "recipes" / "rlvr.yaml"),
            "--algorithm",
            "grpo",
            "--model_name_or_path",
            str(work / "base"),
            "--output_dir",
            str(work / "grpo_z3"),
            "--max_steps",
            "2",
            "--num_generations",
            "4",
            "--per_device_train_batch_size",
            "4",
            "--max_completion_length",
            "8",
            "--reward_funcs",
            "_zero3_worker:completion_chars",
            "--num_iterations",
            "1",
            *common,
        ]
    )
    result["grpo"] = {"losses": losses(trainer), "sizes": partition_sizes(trainer)}

    trainer = reward_model.main(
        [
            str(work / "recipes" / "reward_model.yaml"),
            "--model_name_or_path",
            str(work / "base"),
            "--output_dir",
            str(work / "rm_z3"),
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "4",
            *common,
        ]
    )
    result["reward_model"] = {"losses": losses(trainer), "sizes": partition_sizes(trainer)}

    # The remaining (stage, ZeRO stage) pairs: RLOO under ZeRO-3; reward model, DPO, GRPO and RLOO under ZeRO-2.
    # Short runs (1-2 steps, tiny batches) asserting finite losses and moved weights in tests/test_zero3.py.
    def rl(algorithm: str, out: str, config: list[str]) -> list[str]:
        argv = [str(work / "recipes" / "rlvr.yaml"), "--algorithm", algorithm, "--model_name_or_path"]
        argv += [str(work / "base"), "--output_dir", str(work / out), "--max_steps", "2", "--num_generations", "4"]
        argv += ["--per_device_train_batch_size", "4", "--max_completion_length", "8", "--num_iterations", "1"]
        return [*argv, "--reward_funcs", "_zero3_worker:completion_chars", *config]

    trainer = rlvr.main(rl("rloo", "rloo_z3", common))
    result["rloo"] = {"losses": losses(trainer), "sizes": partition_sizes(trainer)}

    def zero2_stage(trainer) -> int:
        return trainer.accelerator.state.deepspeed_plugin.zero_stage

    short = ["--max_steps", "2", "--per_device_train_batch_size", "4"]
    trainer = reward_model.main(
        [str(work / "recipes" / "reward_model.yaml"), "--model_name_or_path", str(work / "base")]
        + ["--output_dir", str(work / "rm_z2"), *short, *zero2]
    )
    result["reward_model_zero2"] = {"losses": losses(trainer), "stage": zero2_stage(trainer)}
    trainer = dpo.main(
        [str(work / "recipes" / "dpo.yaml"), "--model_name_or_path", str(work / "base")]
        + ["--output_dir", str(work / "dpo_z2"), *short, "--ref_logprobs_cache_dir", str(work / "cache_z2"), *zero2]
    )
    result["dpo_zero2"] = {"losses": losses(trainer), "stage": zero2_stage(trainer)}
    for algorithm in ("grpo", "rloo"):
        trainer = rlvr.main(rl(algorithm, f"{algorithm}_z2", zero2))
        result[f"{algorithm}_zero2"] = {"losses": losses(trainer), "stage": zero2_stage(trainer)}

    if dist.get_rank() == 0:
        result["world_size"] = dist.get_world_size()
        (work / "zero3_result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(Path(sys.argv[1]))
