"""Nothing a user made is lost, saved recipes run again, and the model card agrees with recipe.yaml.

One tiny finished SFT run (1 step on 32 rows) is shared: re-runs into its folder are refused, bad inputs leave it
byte-identical even with `overwrite_output_dir: true`, and an overwrite replaces model, recipe and card together.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from _shared import tree
from trl import ModelConfig

from tulu_recipes.config import RecipeError, load_yaml, parse_recipe, run_cli, save_recipe
from tulu_recipes.data.errors import DataError
from tulu_recipes.model_card import card_metadata, model_card
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages import dpo, reward_model, sft
from tulu_recipes.stages.outputs import train_and_save
from tulu_recipes.stages.rlvr import ALGORITHMS, RLVRArguments
from tulu_recipes.trainers.dpo import TuluDPOConfig
from tulu_recipes.trainers.sft import TuluSFTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rlvr_types(algorithm: str) -> list[type]:
    return [TuluScriptArguments, RLVRArguments, ALGORITHMS[algorithm][0], ModelConfig]


RERUN_CASES = {
    "sft": (sft.RECIPE_TYPES, "sft.yaml", []),
    "reward_model": (reward_model.RECIPE_TYPES, "reward_model.yaml", []),
    "dpo": (dpo.RECIPE_TYPES, "dpo.yaml", []),
    "rlvr-ppo": (rlvr_types("ppo"), "rlvr.yaml", ["--algorithm", "ppo"]),
    "rlvr-grpo": (rlvr_types("grpo"), "rlvr.yaml", ["--algorithm", "grpo", "--num_generations", "2"]),
    "rlvr-rloo": (rlvr_types("rloo"), "rlvr.yaml", ["--algorithm", "rloo", "--num_generations", "2"]),
}


@pytest.mark.parametrize("case", list(RERUN_CASES))
def test_saved_recipe_parses_back_to_the_same_configs(tmp_path, quickstart_dir, case):
    """TRL's configs derive fields in __post_init__ (GRPO: generation_batch_size); the saved recipe must not."""
    types, name, extra = RERUN_CASES[case]
    configs = parse_recipe(types, [str(quickstart_dir / name), *extra, "--seed", "7"])
    saved = save_recipe(tmp_path, *configs)
    again = parse_recipe(types, [str(saved)])
    assert again == configs
    assert load_yaml(saved)["seed"] == 7


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, quickstart_dir):
    """A finished 1-step SFT run, decontaminated against a local eval file; returns (recipe path, output_dir)."""
    root = tmp_path_factory.mktemp("finished")
    lines = (quickstart_dir / "data" / "sft.jsonl").read_text(encoding="utf-8").splitlines()[:32]
    data = root / "sft.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    questions = [{"question": f"What is {i} plus {i}? Think in steps."} for i in range(20)]
    evals = write_jsonl(root / "eval.jsonl", questions)
    recipe = load_yaml(quickstart_dir / "sft.yaml")
    recipe.update(
        model_name_or_path=str(quickstart_dir / "tiny-base"),
        dataset_mixer=[{"path": str(data), "fraction": 1.0}],
        decontaminate_against=[f"arith={evals}:question"],
        output_dir=str(root / "out"),
        max_steps=1,
        logging_steps=1,
        disable_tqdm=True,
    )
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    sft.main([str(path)])
    return path, root / "out"


def card_parts(card: str) -> tuple[dict, dict]:
    """The card's YAML metadata and the recipe in its fenced YAML block."""
    match = re.match(r"^---\n(.*?)\n---\n", card, re.S)
    assert match, "the card starts with YAML metadata"
    recipe = re.search(r"## Recipe\n.*?```yaml\n(.*?)```", card, re.S)
    assert recipe, "the card ends with the recipe"
    return yaml.safe_load(match.group(1)), yaml.safe_load(recipe.group(1))


def test_finished_run_has_a_card_that_agrees_with_its_recipe(finished):
    _, out = finished
    card = (out / "README.md").read_text(encoding="utf-8")
    meta, card_recipe = card_parts(card)
    assert card_recipe == load_yaml(out / "recipe.yaml")
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-generation"
    assert {"tulu-recipes", "trl", "sft"} <= set(meta["tags"])
    assert "base_model" not in meta and "datasets" not in meta  # a local model and a local file: no Hub ids
    assert "| training rows | 32 |" in card and "| loss reduction | sum |" in card and "| steps trained | 1 |" in card
    assert "## Training data" in card and "| **total** | 32 | 32 |" in card
    assert "no source is contaminated" in card
    assert re.search(r"\| .*sft\.jsonl \| arith \| 0/20 \| 0\.00% \| no \|", card)
    assert (out / "decontamination.json").is_file() and (out / "mixture.md").is_file()


def test_rerun_into_a_finished_run_is_refused_before_anything_loads(finished, capsys):
    path, out = finished
    before = tree(out)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(sft.main, [str(path)])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert f"output_dir {out} holds a finished model (model.safetensors)" in message
    assert "overwrite_output_dir: true" in message and "resume_from_checkpoint: true" in message
    assert tree(out) == before


BAD_INPUTS = {
    "missing column": ({"rows": [{"question": "2+2?", "answer": "4"}] * 4}, DataError),
    "empty after filters": (
        {"rows": [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}] * 4},
        DataError,
    ),
    "bad template": ({"chat_template": "no_such_template"}, RecipeError),
    "missing model": ({"model_name_or_path": "/nonexistent/tiny-model"}, Exception),
    "negative fraction": ({"fraction": -0.5}, (DataError, RecipeError)),
    "negative learning rate": ({"learning_rate": -1e-5}, RecipeError),
    "zero batch size": ({"per_device_train_batch_size": 0}, RecipeError),
    "zero max_length": ({"max_length": 0}, RecipeError),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_leaves_a_finished_run_byte_identical(finished, tmp_path, case):
    """Even with `overwrite_output_dir: true`: nothing is written until data, template and model have loaded."""
    path, out = finished
    change, error = BAD_INPUTS[case]
    recipe = load_yaml(path)
    recipe["overwrite_output_dir"] = True
    if "rows" in change:
        recipe["dataset_mixer"] = [{"path": write_jsonl(tmp_path / "bad.jsonl", change["rows"])}]
    elif "fraction" in change:
        recipe["dataset_mixer"] = [{**recipe["dataset_mixer"][0], "fraction": change["fraction"]}]
    else:
        recipe.update(change)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    before = tree(out)
    with pytest.raises(error):
        sft.main([str(bad)])
    assert tree(out) == before
    # the same failure into a new folder leaves no folder behind
    with pytest.raises(error):
        sft.main([str(bad), "--output_dir", str(tmp_path / "new")])
    assert not (tmp_path / "new").exists()


class _FailingTrainer:
    """Stands in for a TRL trainer whose training dies before its first checkpoint."""

    def __init__(self, output_dir: Path) -> None:
        self.args = type("Args", (), {"output_dir": str(output_dir), "resume_from_checkpoint": None})()

    def is_world_process_zero(self) -> bool:
        return True

    def train(self, resume_from_checkpoint=None) -> None:
        assert (Path(self.args.output_dir) / "recipe.yaml").is_file()  # written once the run starts
        raise RuntimeError("out of memory")


def test_a_run_failing_before_its_first_checkpoint_leaves_no_folder(tmp_path):
    configs = parse_recipe([TuluScriptArguments], ["--chat_template", "tulu"])
    with pytest.raises(RuntimeError, match="out of memory"):
        train_and_save(_FailingTrainer(tmp_path / "run"), None, None, *configs, stage="sft")
    assert not (tmp_path / "run").exists()


def test_overwrite_replaces_model_recipe_and_card_together(finished, tmp_path):
    """The saved recipe.yaml runs again unchanged but for the overwrite; card and recipe then say seed 43."""
    _, out = finished
    saved = tmp_path / "saved.yaml"
    saved.write_text((out / "recipe.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    weights = (out / "model.safetensors").read_bytes()
    sft.main([str(saved), "--overwrite_output_dir", "true", "--seed", "43", "--warmup_steps", "0"])
    recipe = load_yaml(out / "recipe.yaml")
    _, card_recipe = card_parts((out / "README.md").read_text(encoding="utf-8"))
    assert recipe["seed"] == card_recipe["seed"] == 43 and card_recipe == recipe
    assert (out / "model.safetensors").read_bytes() != weights


def test_lora_card_replaces_peft_template(finished, tmp_path):
    path, _ = finished
    out = tmp_path / "lora"
    sft.main([str(path), "--output_dir", str(out), "--use_peft", "true", "--lora_r", "4"])
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "More Information Needed" not in card
    meta, card_recipe = card_parts(card)
    assert meta["library_name"] == "peft" and "lora" in meta["tags"]
    assert card_recipe == load_yaml(out / "recipe.yaml") and card_recipe["lora_r"] == 4
    assert (out / "adapter_model.safetensors").is_file()


def test_card_metadata_for_hub_models_and_datasets(tmp_path, quickstart_dir):
    """Hub ids go into the metadata; the RLVR card names its algorithm, verifiers and held-out metrics."""
    recipe = load_yaml(quickstart_dir / "rlvr.yaml")
    recipe.pop("env", None)
    recipe.update(
        model_name_or_path="allenai/Llama-3.1-Tulu-3-8B-DPO",
        dataset_mixer=[{"path": "allenai/RLVR-GSM-MATH-IF-Mixed-Constraints", "fraction": 1.0}],
        algorithm="grpo",
        num_generations=2,
        output_dir=str(tmp_path / "out"),
    )
    path = tmp_path / "rlvr.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    configs = parse_recipe(rlvr_types("grpo"), [str(path)])
    history = [{"eval_loss": 0.25, "step": 5}, {"train_loss": 0.5, "step": 5}]
    card = model_card(tmp_path / "out", "rlvr", configs, log_history=history)
    (tmp_path / "README.md").write_text(card, encoding="utf-8")
    meta = card_metadata(tmp_path / "README.md")
    assert meta["base_model"] == "allenai/Llama-3.1-Tulu-3-8B-DPO"
    assert meta["datasets"] == ["allenai/RLVR-GSM-MATH-IF-Mixed-Constraints"]
    assert {"rlvr", "grpo"} <= set(meta["tags"])
    assert "| algorithm | grpo |" in card and "| verifiers | gsm8k |" in card
    assert "## Evaluation" in card and "| eval_loss | 0.25 |" in card
    assert card_parts(card)[1]["algorithm"] == "grpo"


@pytest.mark.parametrize(
    "saved", ["model.safetensors", "pytorch_model.bin.index.json", "adapter_model.safetensors", "adapter_model.bin"]
)
def test_every_kind_of_saved_model_marks_a_finished_run(tmp_path, saved):
    """A full model, a sharded one and a LoRA adapter (what `use_peft` saves) are all finished runs: a re-run into
    the folder is refused, and a folder with only checkpoints or data outputs is not finished."""
    from types import SimpleNamespace

    from tulu_recipes.stages.outputs import finished_model_file, refuse_finished_run

    (tmp_path / "checkpoint-2").mkdir()
    (tmp_path / "checkpoint-2" / "model.safetensors").write_bytes(b"x")
    (tmp_path / "mixture.json").write_text("{}")
    assert finished_model_file(tmp_path) is None
    (tmp_path / saved).write_bytes(b"x")
    assert finished_model_file(tmp_path) == tmp_path / saved
    args = SimpleNamespace(output_dir=str(tmp_path), resume_from_checkpoint=None)
    with pytest.raises(RecipeError, match=f"holds a finished model \\({saved}\\)"):
        refuse_finished_run(TuluScriptArguments(), args)


@pytest.mark.parametrize(
    ("stage", "override", "message"),
    [
        ("sft", ["--learning_rate=-2e-5"], "`learning_rate` must be >= 0, got -2e-05"),
        ("sft", ["--num_train_epochs", "0"], "`num_train_epochs` must be > 0, got 0.0"),
        ("dpo", ["--beta=-0.1"], "`beta` must be >= 0, got -0.1"),
        ("ppo", ["--value_learning_rate=-1e-6"], "`value_learning_rate` must be >= 0, got -1e-06"),
        ("ppo", ["--max_prompt_length", "0"], "`max_prompt_length` must be >= 1, got 0"),
        ("grpo", ["--epsilon", "0"], "`epsilon` must be > 0, got 0.0"),
        ("grpo", ["--max_completion_length", "0"], "`max_completion_length` must be >= 1, got 0"),
        ("grpo", ["--temperature", "0"], "`temperature` must be > 0, got 0.0"),
    ],
)
def test_out_of_range_values_are_one_line_naming_the_key(quickstart_dir, capsys, stage, override, message):
    """Numeric ranges are checked when the recipe is parsed, so the run stops before anything loads or is written."""
    types = {
        "sft": [TuluScriptArguments, TuluSFTConfig, ModelConfig],
        "dpo": [TuluScriptArguments, TuluDPOConfig, ModelConfig],
    }.get(stage) or rlvr_types(stage)
    cpu = ["--use_cpu", "true", "--bf16", "false"]
    argv = [str(quickstart_dir / f"{stage}.yaml"), *override] if stage in ("sft", "dpo") else [*cpu, *override]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda a: parse_recipe(types, a), argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.endswith(message) and "the command line" in err


def test_saved_recipe_and_card_show_no_machine_paths_and_run_again(tmp_path):
    """`./` paths come back relative to the saved recipe's folder, bundled files by their scheme; re-parsing the saved
    recipe resolves every path to the same file."""
    from tulu_recipes.config import BUNDLED_SCHEME

    home = tmp_path / "project"
    (home / "data").mkdir(parents=True)
    (home / "data" / "sft.jsonl").write_text("{}\n")
    recipe = {
        "model_name_or_path": f"{BUNDLED_SCHEME}quickstart/tiny-base",
        "dataset_mixer": [{"path": "./data/sft.jsonl", "fraction": 1.0}],
        "output_dir": "./runs/sft",
        "use_cpu": True,
    }
    (home / "sft.yaml").write_text(yaml.safe_dump(recipe))
    types = [TuluScriptArguments, TuluSFTConfig, ModelConfig]
    configs = parse_recipe(types, [str(home / "sft.yaml")])
    out = Path(configs[1].output_dir)
    assert out == home / "runs" / "sft"
    saved = save_recipe(out, *configs)
    card = model_card(out, "sft", configs)
    for text in (saved.read_text(), card):
        assert str(tmp_path) not in text and "site-packages" not in text
    again = load_yaml(saved)
    assert again["model_name_or_path"] == f"{BUNDLED_SCHEME}quickstart/tiny-base"
    assert again["dataset_mixer"][0]["path"] == "../../data/sft.jsonl" and again["output_dir"] == "./"
    reparsed = parse_recipe(types, [str(saved)])
    assert reparsed[0].dataset_mixer == configs[0].dataset_mixer
    assert reparsed[1].output_dir == configs[1].output_dir and reparsed[2] == configs[2]


def test_card_usage_snippet_loads_the_model_and_chats(finished):
    """The card's Usage block, pointed at the finished folder, runs as written (with 4 new tokens)."""
    _, out = finished
    card = (out / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"## Usage\n\n```python\n(.*?)```", card, re.S).group(1)
    assert 'from_pretrained("path/to/out")' in snippet
    code = snippet.replace("path/to/out", str(out)).replace("max_new_tokens=256", "max_new_tokens=4")
    namespace: dict = {}
    exec(compile(code, "usage-snippet", "exec"), namespace)  # our own card text, not model output
    assert namespace["out"].shape[1] > namespace["ids"]["input_ids"].shape[1]  # it generated
