"""The RLVR stage end to end on the tiny offline model: recipe parsing, then a few steps of GRPO, RLOO and PPO."""

from pathlib import Path

import pytest
import torch
import yaml

from tulu_recipes.config import RecipeError, parse_recipe
from tulu_recipes.stages import rlvr
from tulu_recipes.trainers.grpo_rloo import TuluGRPOTrainer, TuluRLOOTrainer
from tulu_recipes.trainers.ppo import TuluPPOTrainer

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "recipes" / "quickstart"
SHIPPED = [
    ROOT / "recipes" / "tulu3-8b" / "rlvr.yaml",
    ROOT / "recipes" / "tulu3-70b" / "rlvr.yaml",
    ROOT / "recipes" / "tulu3-8b" / "rlvr-grpo.yaml",
    QUICKSTART / "rlvr.yaml",
]


def tiny_recipe(tmp_path: Path, algorithm: str, **extra) -> Path:
    recipe = {
        "algorithm": algorithm,
        "model_name_or_path": str(QUICKSTART / "tiny-base"),
        "dataset_mixer": [{"path": str(QUICKSTART / "data" / "rlvr.jsonl"), "count": 16}],
        "reward_funcs": ["gsm8k"],
        "output_dir": str(tmp_path / algorithm),
        "learning_rate": 1e-3,
        "per_device_train_batch_size": 4,
        "max_completion_length": 6,
        "max_steps": 2,
        "logging_steps": 2,
        "use_cpu": True,
        "bf16": False,
        "gradient_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
        **extra,
    }
    path = tmp_path / f"{algorithm}.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_recipes_parse(path):
    argv = [str(path)]
    config_cls, _ = rlvr.ALGORITHMS[rlvr.algorithm_of(argv)]
    script_args, rlvr_args, training_args, model_args = parse_recipe(
        [rlvr.TuluScriptArguments, rlvr.RLVRArguments, config_cls, rlvr.ModelConfig],
        argv + ["--use_cpu", "true", "--bf16", "false"],
    )
    assert rlvr_args.algorithm in rlvr.ALGORITHMS and rlvr_args.reward_funcs
    if path.parent.name == "tulu3-8b" and path.name == "rlvr.yaml":
        assert (rlvr_args.algorithm, training_args.learning_rate, training_args.beta) == ("ppo", 3e-7, 0.05)
        assert training_args.value_model_path == "allenai/Llama-3.1-Tulu-3-8B-RM"
        assert script_args.mixture_sources()[0]["path"] == "allenai/RLVR-GSM-MATH-IF-Mixed-Constraints"
        release = (training_args.score_position, training_args.max_prompt_length, training_args.weight_decay)
        assert release == ("after_eos", 2048, 0.01)
        # the release's linear schedule spanned 10M episodes: over the run the LR stays within 1.1% of 3e-7
        assert 1 - training_args.max_steps / training_args.lr_schedule_steps == pytest.approx(0.98999, abs=1e-5)
    if path.name == "rlvr-grpo.yaml":
        assert (training_args.num_generations, training_args.beta, training_args.lr_scheduler_type.value) == (
            16,
            0.01,
            "constant",
        )
        # The release had no vLLM importance-ratio correction (TRL's default is on).
        assert training_args.vllm_importance_sampling_correction is False
        assert (training_args.use_bias_correction_kl, training_args.scale_rewards) == (False, "group")


def test_grpo_advantage_epsilon_is_within_4e_5_of_the_release():
    """Release: (r - mean) / (std + 1e-8); TRL: the same std (Bessel-corrected) + 1e-4. Worst non-zero group."""
    from trl.trainer.utils import nanstd

    config_cls, _ = rlvr.ALGORITHMS["grpo"]
    path = ROOT / "recipes" / "tulu3-8b" / "rlvr-grpo.yaml"
    _, rlvr_args, args, _ = parse_recipe(
        [rlvr.TuluScriptArguments, rlvr.RLVRArguments, config_cls, rlvr.ModelConfig],
        [str(path), "--use_cpu", "true", "--bf16", "false"],
    )
    g = args.num_generations
    worst = torch.zeros(g, dtype=torch.float64)
    worst[0] = rlvr_args.reward_value  # one verified answer in the group: the smallest non-zero std
    assert nanstd(worst).item() == pytest.approx(worst.std().item(), rel=1e-6)  # same (unbiased) std
    release = (worst - worst.mean()) / (worst.std() + 1e-8)
    trl = (worst - worst.mean()) / (nanstd(worst) + 1e-4)
    assert worst.std().item() == pytest.approx(2.5, rel=1e-6)
    assert ((trl - release).abs() / release.abs()).max().item() < 4.1e-5


def test_a_key_of_another_algorithm_is_refused(tmp_path):
    with pytest.raises(RecipeError, match="vf_coef"):
        rlvr.main([str(tiny_recipe(tmp_path, "grpo", vf_coef=0.1))])
    with pytest.raises(RecipeError, match="algorithm"):
        rlvr.algorithm_of([str(tiny_recipe(tmp_path, "ppo")), "--algorithm=dpo"])


@pytest.mark.parametrize(
    ("algorithm", "trainer_cls", "extra"),
    [
        ("grpo", TuluGRPOTrainer, {"num_generations": 2, "beta": 0.01, "non_stop_penalty": -10.0}),
        ("rloo", TuluRLOOTrainer, {"num_generations": 2}),
        ("ppo", TuluPPOTrainer, {"num_iterations": 2, "max_steps": 2}),
    ],
)
def test_tiny_run(tmp_path, algorithm, trainer_cls, extra):
    trainer = rlvr.main([str(tiny_recipe(tmp_path, algorithm, **extra))])
    assert isinstance(trainer, trainer_cls) and trainer.state.global_step == 2
    entry = next(e for e in trainer.state.log_history if "verifier/gsm8k/reward" in e)
    keys = ("completions/mean_length", "completions/clipped_ratio", "verifier/gsm8k/accuracy", "rewards/gsm8k/mean")
    for key in keys:
        assert entry[key] is not None, key
    if algorithm == "grpo":
        # the tiny random model never answers right; a completion without EOS is scored -10 instead of 0
        assert entry["rewards/gsm8k/mean"] == pytest.approx(-10.0 * entry["completions/clipped_ratio"], abs=1e-4)
        assert entry["verifier/gsm8k/reward"] == 0.0
    if algorithm == "ppo":
        assert {"value_loss", "value/explained_variance", "kl"} <= set(entry)
        assert (tmp_path / "ppo" / "value_model" / "config.json").exists()
    out = tmp_path / algorithm
    assert (out / "model.safetensors").exists() and (out / "recipe.yaml").exists()
    assert "<|assistant|>" in (out / "chat_template.jinja").read_text()


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_grpo_and_rloo_drop_prompts_over_max_prompt_length_as_the_release(tmp_path, algorithm):
    """The release's GRPO command dropped prompts over 2,048 tokens (default); a lower limit drops exactly the rows
    whose templated prompt is longer, and `null` keeps them all."""
    import json

    from datasets import Dataset
    from transformers import AutoTokenizer

    from tulu_recipes.trainers.grpo_rloo import TuluGRPOConfig, TuluRLOOConfig

    assert TuluGRPOConfig.max_prompt_length == TuluRLOOConfig.max_prompt_length == 2048
    rows = [json.loads(line) for line in (QUICKSTART / "data" / "rlvr.jsonl").read_text().splitlines()[:16]]
    data = Dataset.from_list([{"prompt": r["messages"], "ground_truth": r["ground_truth"]} for r in rows])
    tok = AutoTokenizer.from_pretrained(QUICKSTART / "tiny-base")
    encode = lambda p: tok.apply_chat_template(p, add_generation_prompt=True, tokenize=True, return_dict=True)  # noqa: E731
    lengths = [len(encode(p)["input_ids"]) for p in data["prompt"]]
    limit = sorted(lengths)[8]
    kept = [i for i, n in enumerate(lengths) if n <= limit]
    assert 0 < len(kept) < 16
    grpo = algorithm == "grpo"
    config_cls, trainer_cls = (TuluGRPOConfig, TuluGRPOTrainer) if grpo else (TuluRLOOConfig, TuluRLOOTrainer)
    for max_prompt_length, expected in [(limit, kept), (None, list(range(16)))]:
        args = config_cls(
            output_dir=str(tmp_path), max_prompt_length=max_prompt_length, num_generations=2,
            per_device_train_batch_size=2, use_cpu=True, bf16=False, report_to="none",
        )  # fmt: skip
        trainer = trainer_cls(
            model=str(QUICKSTART / "tiny-base"), reward_funcs=[lambda completions, **kw: [0.0] * len(completions)],
            args=args, train_dataset=data, processing_class=tok,
        )  # fmt: skip
        assert trainer.train_dataset["prompt"] == [data["prompt"][i] for i in expected]
