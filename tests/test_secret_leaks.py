"""Leak hunt: secrets planted wherever a user can put one never reach a file the project writes, nor its output.

`_leak_chain.py` runs SFT (with checkpoints) -> DPO -> GRPO -> evaluate on the tiny model and the LLM-judged
preference pipeline against a loopback server that quotes the `Authorization` header back, in one fresh process.
Every byte under every output folder, its stdout and stderr (INFO logs, DEBUG for tulu_recipes), and the
hyperparameters transformers would send to W&B or TensorBoard are searched for each planted string.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tulu_recipes.secrets import REDACTED

CHAIN = Path(__file__).with_name("_leak_chain.py")
SECRETS = {
    "sft_env_hf": "hf_PlantedSftEnvHubToken0001",
    "sft_env_wandb": "wandb-planted-sft-env-key-0002",
    "sft_env_plain": "planted-value-of-a-plain-setting-0003",
    "sft_hub_token": "hf_PlantedSftRecipeHubToken0004",
    "dpo_cli_hub_token": "hf_PlantedDpoCommandLine0005",
    "grpo_env": "planted-grpo-env-secret-0006",
    "eval_env": "sk-planted-eval-env-openai-0007",
    "llm_key": "sk-planted-generation-api-key-0008",
}


@pytest.fixture(scope="module")
def hunt(tmp_path_factory, repo_root):
    """(output folder, stdout + stderr) of the whole chain."""
    root = tmp_path_factory.mktemp("leaks")
    inputs, outputs = root / "inputs", root / "outputs"
    inputs.mkdir()
    outputs.mkdir()
    (inputs / "secrets.json").write_text(json.dumps(SECRETS))
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TRANSFORMERS_VERBOSITY": "info",
        "TULU_LEAK_TEST_LLM": SECRETS["llm_key"],
        "PYTHONPATH": os.pathsep.join([str(repo_root), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, str(CHAIN), str(inputs / "secrets.json"), str(inputs), str(outputs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return outputs, proc.stdout + proc.stderr


def test_no_planted_secret_in_any_output_file_log_or_hyperparameter(hunt):
    outputs, captured = hunt
    files = {p.relative_to(outputs).as_posix(): p.read_bytes() for p in sorted(outputs.rglob("*")) if p.is_file()}
    for expected in (
        "sft/README.md",
        "sft/recipe.yaml",
        "sft/training_args.bin",
        "sft/checkpoint-1/training_args.bin",
        "sft/checkpoint-2/trainer_state.json",
        "sft/mixture.json",
        "sft/decontamination.md",
        "dpo/training_args.bin",
        "grpo/README.md",
        "eval/results.json",
        "eval/recipe.yaml",
        "preferences/pairs.jsonl",
        "preferences/pairs.jsonl.completions.jsonl.failed.jsonl",
        "preferences/pairs.jsonl.judgments.jsonl",
        "hparams/sft.txt",
        "hparams/grpo.txt",
    ):
        assert expected in files  # the hunt reached every kind of file the project writes
    files["stdout+stderr"] = captured.encode()
    leaks = [
        (where, name) for where, blob in files.items() for name, secret in SECRETS.items() if secret.encode() in blob
    ]
    assert leaks == []
    assert '"authorization_sent": true' in captured  # the key really went out, and came back in every reply
    assert "retry 1" in captured and f"Authorization: Bearer {REDACTED}" in captured  # the echo was logged, redacted


def test_saved_recipes_and_card_show_names_and_that_values_were_set(hunt):
    outputs, _ = hunt
    saved = yaml.safe_load((outputs / "sft" / "recipe.yaml").read_text(encoding="utf-8"))
    names = ["HF_TOKEN", "WANDB_API_KEY", "TULU_LEAK_PLAIN_SETTING"]
    assert saved["env"] == dict.fromkeys(names, REDACTED) and saved["hub_token"] == REDACTED
    assert saved["max_steps"] == 2 and saved["pad_token"] is None  # the rest as it was
    card = (outputs / "sft" / "README.md").read_text(encoding="utf-8")
    assert all(f"  {name}: {REDACTED}\n" in card for name in names) and f"\nhub_token: {REDACTED}\n" in card
    assert yaml.safe_load((outputs / "dpo" / "recipe.yaml").read_text(encoding="utf-8"))["hub_token"] == REDACTED
    assert yaml.safe_load((outputs / "eval" / "recipe.yaml").read_text(encoding="utf-8"))["env"] == {
        "OPENAI_API_KEY": REDACTED
    }
    for path in ("sft/checkpoint-1", "sft", "dpo"):
        args = torch.load(outputs / path / "training_args.bin", weights_only=False)  # transformers' pickle
        assert args.hub_token is None and args.output_dir.startswith(str(outputs))


def test_generation_records_keep_their_content_without_the_key(hunt):
    outputs, captured = hunt
    folder = outputs / "preferences"
    failed = [json.loads(line) for line in (folder / "pairs.jsonl.completions.jsonl.failed.jsonl").open()]
    assert sorted(r["input"]["model"] for r in failed) == ["unauthorized", "unauthorized"]
    assert all("401" in r["error"] and f"Bearer {REDACTED}" in r["error"] for r in failed)
    completions = (folder / "pairs.jsonl.completions.jsonl").read_text(encoding="utf-8")
    assert completions.count(f"your header was Bearer {REDACTED}") == 4  # pool-a and pool-b on both prompts
    pairs = [json.loads(line) for line in (folder / "pairs.jsonl").open()]
    assert [(p["chosen_model"], p["rejected_model"], p["chosen_rating"]) for p in pairs] == [
        ("pool-a", "pool-b", 5.0)
    ] * 2
    assert '"pairs": 2, "failed": 2, "retries": 2' in captured
