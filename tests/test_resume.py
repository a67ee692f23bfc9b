"""Exact resume: a run SIGKILLed mid-way and resumed ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tulu_recipes.trainers.fault_tolerance import COMPLETE_MARKER, complete_checkpoints, resolve_resume

HARNESS = Path(__file__).with_name("_resume_harness.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_stage(
    module: str,
    recipe: Path,
    out: Path,
    extra: list[str],
    kill_step: int = -1,
    where: str = "step",
    resume: bool = False,
) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        str(HARNESS),
        module,
        str(kill_step),
        where,
        str(recipe),
        "--output_dir",
        str(out),
        "--logging_steps",
        "1",
        "--save_strategy",
        "steps",
        "--disable_tqdm",
        "true",
        *extra,
    ]
    if resume:
        cmd += ["--resume_from_checkpoint", "true"]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)


def losses_after(checkpoint: Path, step: int) -> dict[int, float]:
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    return {e["step"]: e["loss"] for e in history if "loss" in e and e["step"] > step}


def max_weight_diff(a: Path, b: Path) -> float:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    return max((wa[k].float() - wb[k].float()).abs().max().item() for k in wa)


def check_exact_resume(
    module: str,
    recipe: Path,
    tmp_path: Path,
    extra: list[str],
    steps: int,
    save_every: int,
    kill_step: int,
    where: str = "step",
) -> None:
    extra = [*extra, "--max_steps", str(steps), "--save_steps", str(save_every)]
    full = run_stage(module, recipe, tmp_path / "full", extra)
    assert full.returncode == 0, full.stderr[-3000:]

    broken = tmp_path / "broken"
    killed = run_stage(module, recipe, broken, extra, kill_step=kill_step, where=where)
    assert killed.returncode == -9, killed.stderr[-3000:]
    last_good = (kill_step - 1) // save_every * save_every if where == "save" else kill_step // save_every * save_every
    assert [p.name for p in complete_checkpoints(broken)][-1] == f"checkpoint-{last_good}"

    resumed = run_stage(module, recipe, broken, extra, resume=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert max_weight_diff(tmp_path / "full", broken) == 0.0
    final = f"checkpoint-{steps}"
    want, got = losses_after(tmp_path / "full" / final, last_good), losses_after(broken / final, last_good)
    assert want and got == want


def test_sft_resumes_exactly_after_sigkill(tmp_path, quickstart_dir):
    check_exact_resume(
        "tulu_recipes.stages.sft",
        quickstart_dir / "sft.yaml",
        tmp_path,
        ["--per_device_train_batch_size", "8", "--max_length", "64"],
        steps=6,
        save_every=2,
        kill_step=5,
    )


def test_sft_kill_during_save_resumes_from_previous_checkpoint(tmp_path, quickstart_dir):
    check_exact_resume(
        "tulu_recipes.stages.sft",
        quickstart_dir / "sft.yaml",
        tmp_path,
        ["--per_device_train_batch_size", "8", "--max_length", "64"],
        steps=6,
        save_every=2,
        kill_step=4,
        where="save",
    )
    assert (tmp_path / "broken" / "incomplete-checkpoint-4").is_dir()  # the torn one was set aside, not reused


def test_resolve_resume(tmp_path):
    assert resolve_resume(None, tmp_path) is None and resolve_resume("false", tmp_path) is None
    assert resolve_resume("true", tmp_path / "missing") is None  # nothing to resume: fresh start
    for step in (2, 4, 6):
        (tmp_path / f"checkpoint-{step}").mkdir()
    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}" / COMPLETE_MARKER).write_text("ok")
    assert resolve_resume(True, tmp_path) == str(tmp_path / "checkpoint-4")
    assert not (tmp_path / "checkpoint-6").exists() and (tmp_path / "incomplete-checkpoint-6").is_dir()
    assert resolve_resume(str(tmp_path / "checkpoint-2"), tmp_path) == str(tmp_path / "checkpoint-2")
    with pytest.raises(ValueError, match="incomplete"):
        resolve_resume(str(tmp_path / "incomplete-checkpoint-6"), tmp_path)


def test_nonfinite_steps_are_skipped_then_abort(tiny_base, tmp_path):
    """NaN injected into the loss: the weights do not move, the skip is logged, and the run stops after 3."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    from tulu_recipes.chat_templates import load_chat_template
    from tulu_recipes.trainers.fault_tolerance import NonFiniteStepError, fault_tolerance_callbacks
    from tulu_recipes.trainers.sft import TuluSFTConfig, TuluSFTTrainer

    class NaNAfter(TuluSFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            return loss * float("nan") if self.state.global_step >= 2 else loss

    tok = AutoTokenizer.from_pretrained(tiny_base)
    tok.chat_template = load_chat_template("tulu").training
    rows = [[{"role": "user", "content": f"{i}+1?"}, {"role": "assistant", "content": f"{i + 1}"}] for i in range(40)]
    args = TuluSFTConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        max_steps=10,
        learning_rate=1e-3,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        logging_steps=1,
    )
    trainer = NaNAfter(
        model=AutoModelForCausalLM.from_pretrained(tiny_base),
        args=args,
        train_dataset=Dataset.from_dict({"messages": rows}),
        processing_class=tok,
        callbacks=fault_tolerance_callbacks(3),
    )
    snapshot = {}

    class Snapshot(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step == 2:
                snapshot.update({n: p.detach().clone() for n, p in model.named_parameters()})

    trainer.add_callback(Snapshot())
    with pytest.raises(NonFiniteStepError, match="3 optimizer steps in a row"):
        trainer.train()
    assert trainer.state.global_step == 4  # steps 3 and 4 skipped, the third bad step aborts before counting
    for name, param in trainer.model.named_parameters():
        assert torch.equal(param.detach(), snapshot[name]), name
    skipped = [e for e in trainer.state.log_history if e.get("nonfinite_step_skipped")]
    assert [e["nonfinite_steps_total"] for e in skipped] == [1, 2, 3]


@pytest.mark.parametrize(
    ("module", "recipe", "extra"),
    [
        ("tulu_recipes.stages.dpo", "dpo.yaml", ["--per_device_train_batch_size", "4", "--max_length", "64"]),
        (
            "tulu_recipes.stages.reward_model",
            "reward_model.yaml",
            ["--per_device_train_batch_size", "4", "--max_length", "64"],
        ),
        (
            "tulu_recipes.stages.rlvr",
            "rlvr.yaml",
            [
                "--algorithm",
                "grpo",
                "--num_generations",
                "4",
                "--per_device_train_batch_size",
                "8",
                "--max_completion_length",
                "8",
                "--num_iterations",
                "1",
            ],
        ),
        (
            "tulu_recipes.stages.rlvr",
            "rlvr.yaml",
            [
                "--algorithm",
                "rloo",
                "--num_generations",
                "2",
                "--per_device_train_batch_size",
                "4",
                "--max_completion_length",
                "8",
            ],
        ),
        (
            "tulu_recipes.stages.rlvr",
            "rlvr.yaml",
            [
                "--algorithm",
                "ppo",
                "--per_device_train_batch_size",
                "4",
                "--max_completion_length",
                "8",
                "--num_iterations",
                "2",
            ],
        ),
    ],
    ids=["dpo", "reward_model", "grpo", "rloo", "ppo"],
)
def test_every_stage_resumes_exactly_after_sigkill(tmp_path, quickstart_dir, tiny_base, module, recipe, extra):
    check_exact_resume(
        module,
        quickstart_dir / recipe,
        tmp_path,
        ["--model_name_or_path", str(tiny_base), *extra],
        steps=5,
        save_every=2,
        kill_step=3,
    )
