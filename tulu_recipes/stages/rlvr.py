"""RLVR stage: `python recipes/rlvr.py recipe.yaml` (or `accelerate launch recipes/rlvr.py recipe.yaml`).

`algorithm: ppo | grpo | rloo` picks the trainer and with it the config class whose fields the recipe may use:
`TuluPPOConfig` (the paper's PPO with a value model), `TuluGRPOConfig`, `TuluRLOOConfig`. Rewards are verifiers
from the `rewards` registry, `reward_funcs: [verifiable]` by default (routes rows on their `dataset` column).
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from typing import Literal

from trl import ModelConfig

from tulu_recipes.config import RecipeError, load_yaml, run_cli
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.rlvr_golds import check_rlvr_golds
from tulu_recipes.stages.skeleton import check_recipe, prepare
from tulu_recipes.trainers.grpo_rloo import TuluGRPOConfig, TuluGRPOTrainer, TuluRLOOConfig, TuluRLOOTrainer
from tulu_recipes.trainers.ppo import TuluPPOConfig, TuluPPOTrainer

ALGORITHMS = {
    "ppo": (TuluPPOConfig, TuluPPOTrainer),
    "grpo": (TuluGRPOConfig, TuluGRPOTrainer),
    "rloo": (TuluRLOOConfig, TuluRLOOTrainer),
}
RLVR_COLUMNS = ["prompt", "ground_truth", "dataset"]


@dataclass
class RLVRArguments:
    """Which RL algorithm, and which verifiers score the completions."""

    algorithm: Literal["ppo", "grpo", "rloo"] = field(
        default="ppo", metadata={"help": "`ppo` (paper, value model), `grpo` (Tülu 3.1) or `rloo`."}
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: ["verifiable"],
        metadata={
            "help": "Verifiers from the `rewards` registry (`verifiable`, `gsm8k`, `math`, `ifeval`) or "
            "`package.module:function` plug-ins; weights go in `reward_weights`."
        },
    )
    reward_value: float = field(default=10.0, metadata={"help": "Reward of a verified answer (paper: 10)."})
    ifeval_loose: bool = field(default=False, metadata={"help": "Loose IFEval checking (the paper: strict)."})
    ifeval_partial_credit: bool = field(
        default=False,
        metadata={
            "help": "Multi-constraint IFEval/IFTrain rows (open-instruct's `instruction_id` golds) earn "
            "`reward_value` times the share of constraints followed (the per-dataset accuracy metric then counts "
            "rows with any credit); default: all must hold."
        },
    )
    max_unparseable_golds: float = field(
        default=0.05,
        metadata={
            "help": "Stop before training when more than this share of one verifier's training golds cannot be "
            "parsed (they would train on all-zero rewards); an unknown instruction id always stops the run."
        },
    )


def algorithm_of(argv: list[str]) -> str:
    """The `algorithm` a command line asks for: `--algorithm X` wins over the recipe's `algorithm:` key."""
    value = None
    for i, token in enumerate(argv):
        if token == "--algorithm" and i + 1 < len(argv):
            value = argv[i + 1]
        elif token.startswith("--algorithm="):
            value = token.split("=", 1)[1]
    if value is None:
        path = argv[0] if argv and not argv[0].startswith("-") else None
        if path is None and "--config" in argv and argv.index("--config") + 1 < len(argv):
            path = argv[argv.index("--config") + 1]
        value = load_yaml(path).get("algorithm", "ppo") if path else "ppo"
    if value not in ALGORITHMS:
        raise RecipeError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {value!r}")
    return value


def load_rewards(rlvr_args: RLVRArguments) -> list:
    from rewards import load_reward

    if not rlvr_args.reward_funcs:
        raise RecipeError("`reward_funcs` is empty: RLVR needs at least one verifier")
    loaded = []
    for name in rlvr_args.reward_funcs:
        try:
            loaded.append(
                load_reward(
                    name,
                    value=rlvr_args.reward_value,
                    loose=rlvr_args.ifeval_loose,
                    partial=rlvr_args.ifeval_partial_credit,
                )
            )
        except KeyError:
            raise RecipeError(unknown_reward_message(name)) from None
        except (ImportError, ValueError, AttributeError) as err:
            raise RecipeError(f"reward_funcs: {name}: {err}") from None
    return loaded


def unknown_reward_message(name: str) -> str:
    """`reward_funcs` names no registered verifier: say the closest registered name and what else is allowed."""
    from rewards.registry import REGISTRY

    close = difflib.get_close_matches(name.lower(), sorted(REGISTRY), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"reward_funcs: unknown reward {name!r}; {hint}registered: {', '.join(sorted(REGISTRY))}, or a "
        "`package.module:function` plug-in"
    )


def main(argv: list[str] | None = None):
    argv = list(sys.argv[1:] if argv is None else argv)
    config_cls, trainer_cls = ALGORITHMS[algorithm_of(argv)]
    configs = check_recipe([TuluScriptArguments, RLVRArguments, config_cls, ModelConfig], argv, "value_model_path")
    rlvr_args = configs[1]
    reward_funcs = load_rewards(rlvr_args)  # a misspelled verifier stops the run before the model loads
    run = prepare(configs, "rlvr")
    check_rlvr_golds(run.data.train, rlvr_args.reward_funcs, rlvr_args.max_unparseable_golds)  # before the model
    trainer = trainer_cls(model=run.load_model(), reward_funcs=reward_funcs, **run.trainer_kwargs(RLVR_COLUMNS))
    return run.train_and_save(trainer, "rlvr")


if __name__ == "__main__":
    run_cli(main)
