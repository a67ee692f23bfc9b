"""Run every stage with planted secrets, for the leak hunt in test_secret_leaks.py (run in a fresh process, so its
stdout, stderr and logging are exactly a user's).

    python tests/_leak_chain.py SECRETS.json INPUTS_DIR OUTPUTS_DIR

SFT (2 steps, a checkpoint each, a decontamination report) -> DPO -> GRPO -> evaluate on the tiny model, then the
LLM-judged preference pipeline against a loopback server that quotes the request's `Authorization` header back in
completions, judgments and error bodies. Secrets sit in `env:` (secret-named and not), `hub_token` in a recipe,
`--hub_token` on the command line and the preference config's `api_key_env` variable (set by the caller). The
hyperparameters transformers would send to W&B or TensorBoard go to OUTPUTS_DIR/hparams/.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import torch
import yaml

from tulu_recipes.config import run_cli
from tulu_recipes.generation import preferences
from tulu_recipes.stages import dpo, evaluate, rlvr, sft

sys.path.insert(0, str(Path(__file__).resolve().parent))
from openai_server import ChatServer, Reply, last_user_text  # noqa: E402

QUICKSTART = Path(__file__).resolve().parents[1] / "recipes" / "quickstart"
DATA = QUICKSTART / "data"
LLM_KEY_ENV = "TULU_LEAK_TEST_LLM"  # its name does not say "key": the backend must remember the value it sent
TRAIN = {
    "dtype": "float32",
    "chat_template": "tulu",
    "learning_rate": 1e-3,
    "per_device_train_batch_size": 4,
    "max_steps": 1,
    "logging_steps": 1,
    "use_cpu": True,
    "bf16": False,
    "activation_checkpointing": False,
    "dataloader_num_workers": 0,
    "report_to": "none",
    "save_strategy": "no",
    "seed": 3,
}


class EchoServer(ChatServer):
    """Pool model `unauthorized` gets HTTP 401 quoting the header; every other model's first request an HTTP 500
    quoting it (a logged retry); then completions and judgments quote it. The judge rates pool-a 5, others 2."""

    def __init__(self) -> None:
        self.failed_once: set[str] = set()
        super().__init__(self.respond)

    def respond(self, request: dict) -> Reply:
        with self.lock:
            auth = self.auth_headers[-1]
            first = request["model"] not in self.failed_once
            self.failed_once.add(request["model"])
        if request["model"] == "unauthorized":
            return Reply(status=401, raw=json.dumps({"error": f"bad credentials, Authorization: {auth}"}).encode())
        if first:
            return Reply(status=500, raw=f"upstream failed for Authorization: {auth}".encode())
        if request["model"] == "judge":
            rating = 5 if "pool-a answers" in last_user_text(request) else 2
            return Reply(content=f"I saw the header {auth}.\nRating: {rating}")
        return Reply(content=f"{request['model']} answers; your header was {auth}")


def write_recipe(path: Path, recipe: dict) -> str:
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return str(path)


def hyperparameters(out: Path, name: str, trainer) -> None:
    """What transformers' W&B (`to_dict`) and TensorBoard (`to_sanitized_dict`) callbacks log, and `str(args)`."""
    out.mkdir(parents=True, exist_ok=True)
    args = trainer.args
    text = "\n".join([args.to_json_string(), json.dumps(args.to_sanitized_dict(), default=str), str(args)])
    (out / f"{name}.txt").write_text(text, encoding="utf-8")


def main() -> None:
    secrets = json.loads(Path(sys.argv[1]).read_text())
    inputs, outputs = Path(sys.argv[2]), Path(sys.argv[3])
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tulu_recipes").setLevel(logging.DEBUG)  # retry logs included
    clean_env = dict(os.environ)

    def fresh_env() -> None:  # each stage sees only its own `env:`, as in separate runs
        os.environ.clear()
        os.environ.update(clean_env)

    evals = inputs / "eval-questions.jsonl"
    evals.write_text("".join(json.dumps({"q": f"What is {i} plus {i}?"}) + "\n" for i in range(5)))
    sft_out = outputs / "sft"
    recipe = {
        "env": {
            "HF_TOKEN": secrets["sft_env_hf"],
            "WANDB_API_KEY": secrets["sft_env_wandb"],
            "TULU_LEAK_PLAIN_SETTING": secrets["sft_env_plain"],
        },
        "hub_token": secrets["sft_hub_token"],
        "model_name_or_path": str(QUICKSTART / "tiny-base"),
        "dataset_mixer": [{"path": str(DATA / "sft.jsonl"), "count": 8}],
        "decontaminate_against": [f"arith={evals}:q"],
        "max_length": 64,
        "output_dir": str(sft_out),
        **TRAIN,
        "max_steps": 2,
        "save_strategy": "steps",
        "save_steps": 1,
    }
    hyperparameters(outputs / "hparams", "sft", run_cli(sft.main, [write_recipe(inputs / "sft.yaml", recipe)]))
    fresh_env()

    recipe = {
        "model_name_or_path": str(sft_out),
        "dataset_mixer": [{"path": str(DATA / "preferences.jsonl"), "count": 4}],
        "loss_type": ["sigmoid_norm"],
        "max_length": 64,
        "output_dir": str(outputs / "dpo"),
        **TRAIN,
    }
    argv = [write_recipe(inputs / "dpo.yaml", recipe), "--hub_token", secrets["dpo_cli_hub_token"]]
    hyperparameters(outputs / "hparams", "dpo", run_cli(dpo.main, argv))
    fresh_env()

    recipe = {
        "env": {"TULU_LEAK_GRPO_SECRET": secrets["grpo_env"]},
        "algorithm": "grpo",
        "model_name_or_path": str(sft_out),
        "dataset_mixer": [{"path": str(DATA / "rlvr.jsonl"), "count": 4}],
        "reward_funcs": ["gsm8k"],
        "num_generations": 2,
        "max_completion_length": 4,
        "output_dir": str(outputs / "grpo"),
        **TRAIN,
    }
    hyperparameters(outputs / "hparams", "grpo", run_cli(rlvr.main, [write_recipe(inputs / "grpo.yaml", recipe)]))
    fresh_env()

    recipe = {
        "env": {"OPENAI_API_KEY": secrets["eval_env"]},
        "models": [str(sft_out)],
        "tasks": [str(DATA / "eval.jsonl")],
        "limit": 2,
        "max_new_tokens": 4,
        "backend": "transformers",
        "output_dir": str(outputs / "eval"),
    }
    run_cli(evaluate.main, [write_recipe(inputs / "eval.yaml", recipe)])
    fresh_env()

    prompts = inputs / "prompts.jsonl"
    prompts.write_text("".join((DATA / "prompts.jsonl").read_text().splitlines(keepends=True)[:2]))
    with EchoServer() as server:
        spec = {
            "backend": "openai",
            "base_url": server.base_url,
            "api_key_env": LLM_KEY_ENV,
            "max_tokens": 8,
            "max_retries": 0,  # the 500 goes to the executor, which logs its (scrubbed) body
        }
        recipe = {
            "prompts": str(prompts),
            "output_path": str(outputs / "preferences" / "pairs.jsonl"),
            "models": [{"name": n, **spec} for n in ("pool-a", "pool-b", "unauthorized")],
            "judge_model": {"name": "judge", **spec},
            "models_per_prompt": 3,
            "aspects": ["helpfulness", "honesty"],
            "max_retries": 1,
            "retry_base_delay": 0.0,
            "max_concurrency": 1,
        }
        stats = run_cli(preferences.main, [write_recipe(inputs / "preferences.yaml", recipe)])
    sent = sorted(set(server.auth_headers))
    print(
        json.dumps(
            {
                "authorization_sent": sent == [f"Bearer {secrets['llm_key']}"],
                "pairs": stats["pairs"],
                "failed": stats["complete"].failed,
                "retries": stats["complete"].retries,
            }
        )
    )


if __name__ == "__main__":
    main()
