"""Tiny-model PPO runs for tests/test_ppo_distributed.py: `python` (1 process, no DeepSpeed) or `torchrun` (DeepSpeed).

    python tests/_ppo_distributed.py VALUE_DIR OUT JOB [JOB ...]     JOB = name:stage:max_steps[:resume_step]

stage 0 = no DeepSpeed, 2 = ZeRO-2, 3 = ZeRO-3 (parameters partitioned: persistence threshold 0). Completions are a
fixed function of the prompt (every one 4 tokens ending in EOS), so runs with any number of processes see the same
rollouts and the same token count per process; advantages are not whitened (the release whitens per process). Each
job writes OUT/name/log.json (rank 0's log history) next to its saved policy and value model.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoTokenizer

from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "quickstart" / "tiny-base"
RLVR = ROOT / "recipes" / "quickstart" / "data" / "rlvr.jsonl"
GLOBAL_BATCH = 4


def prompt_score(completions, prompts, **kwargs) -> list[float]:
    return [float(len(str(p)) % 3) - 1.0 for p in prompts]


def deepspeed_config(stage: int) -> dict:
    zero = {"stage": stage}
    if stage == 3:
        zero |= {"stage3_param_persistence_threshold": 0}  # no gather flag: the final save gathers regardless
    return {
        "zero_optimization": zero,
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "bf16": {"enabled": "auto"},
    }


def fixed_generate(trainer: TuluPPOTrainer):
    eos = trainer._tokenizer.eos_token_id

    def generate(prompts):
        prompt_ids, _, _ = trainer._tokenize_prompts(prompts)
        completion_ids = [list(ids[-3:][::-1]) + [eos] for ids in prompt_ids]
        texts = [
            [{"role": "assistant", "content": trainer._tokenizer.decode(c, skip_special_tokens=True)}]
            for c in completion_ids
        ]
        return prompt_ids, completion_ids, texts

    return generate


def run(value_dir: str, out: Path, name: str, stage: int, max_steps: int, resume_step: int | None) -> None:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rows = [json.loads(line) for line in RLVR.read_text().splitlines()[:16]]
    data = Dataset.from_list([{"prompt": r["messages"], "ground_truth": r["ground_truth"]} for r in rows])
    run_dir = out / (name if resume_step is None else name.rsplit("-resume", 1)[0])
    args = TuluPPOConfig(
        output_dir=str(run_dir),
        value_model_path=value_dir,
        deepspeed=deepspeed_config(stage) if stage else None,
        learning_rate=3e-4,
        per_device_train_batch_size=GLOBAL_BATCH // world,
        max_completion_length=4,
        max_steps=max_steps,
        num_iterations=2,
        whiten_advantages=False,
        beta=0.1,
        logging_steps=1,
        save_strategy="steps",
        save_steps=2,
        save_only_model=False,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        report_to="none",
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
    )
    trainer = TuluPPOTrainer(
        model=str(TINY),
        reward_funcs=[prompt_score],
        args=args,
        train_dataset=data,
        processing_class=AutoTokenizer.from_pretrained(TINY),
    )
    trainer._generate = fixed_generate(trainer)
    resume = str(run_dir / f"checkpoint-{resume_step}") if resume_step else None
    trainer.train(resume_from_checkpoint=resume)
    final = out / name / "final"
    trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        info = {
            "log": trainer.state.log_history,
            "world": world,
            "value_engine": type(trainer.value_engine).__name__ if trainer.value_engine is not None else None,
            "ref_model": type(trainer.ref_model).__name__,
            "policy_partitioned": bool(
                stage == 3
                and getattr(next(trainer.model.parameters()), "ds_numel", 0)
                and next(trainer.model.parameters()).numel() == 0
            ),
            "value_partitioned": bool(stage == 3 and next(trainer.value_model.parameters()).numel() == 0),
        }
        (out / name / "log.json").write_text(json.dumps(info))
    trainer.accelerator.wait_for_everyone()


def main() -> None:
    torch.set_num_threads(1)
    value_dir, out = sys.argv[1], Path(sys.argv[2])
    for job in sys.argv[3:]:
        name, stage, steps, *resume = job.split(":")
        run(value_dir, out, name, int(stage), int(steps), int(resume[0]) if resume else None)


if __name__ == "__main__":
    main()
