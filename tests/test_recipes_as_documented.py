"""Recipes run as the README documents them: a copied recipe, offline decontamination, TRL's string forms,
no deprecated fields in the shipped recipes, and a warning when the launcher started fewer processes."""

from __future__ import annotations

import importlib
import json
import logging
import warnings

import pytest
from _shared import shared_data
from trl import ModelConfig, get_peft_config

from tulu_recipes import cli
from tulu_recipes.config import load_yaml, parse_recipe, run_cli
from tulu_recipes.data.decontamination import load_eval_sets
from tulu_recipes.data.errors import DataError
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.preflight import check_world_size
from tulu_recipes.trainers.sft import TuluSFTConfig


def test_copied_quickstart_recipe_runs_from_an_empty_folder(tmp_path, monkeypatch, one_torch_thread):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["copy", "quickstart/sft.yaml", "x.yaml"]) == 0
    text = (tmp_path / "x.yaml").read_text(encoding="utf-8")
    assert "model_name_or_path: tulu-recipes://quickstart/tiny-base" in text
    assert "path: tulu-recipes://quickstart/data/sft.jsonl" in text and text.startswith("# CPU quickstart")
    from tulu_recipes.stages import sft

    trainer = run_cli(sft.main, ["x.yaml", "--max_steps", "1", "--output_dir", "out", "--disable_tqdm", "true"])
    assert trainer.state.global_step == 1 and (tmp_path / "out" / "model.safetensors").is_file()


def test_copy_rewrites_flow_lists_and_leaves_other_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli.main(["copy", "quickstart/evaluate.yaml", "e.yaml"])
    recipe = load_yaml(tmp_path / "e.yaml")
    assert recipe["models"] == ["tulu-recipes://quickstart/tiny-base"]
    assert recipe["tasks"] == ["tulu-recipes://quickstart/data/eval.jsonl"]
    assert recipe["output_dir"] == "outputs/quickstart/eval"  # relative to where the user runs, as documented
    assert cli.bundle_relative_paths("a: '../x/y.jsonl'  # c\n- ./z\n", "quickstart") == (
        "a: 'tulu-recipes://x/y.jsonl'  # c\n- tulu-recipes://quickstart/z\n"
    )


def test_offline_eval_sets_come_from_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TULU_RECIPES_EVAL_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="TULU_RECIPES_EVAL_DIR.*gsm8k_test.jsonl"):
        load_eval_sets(["gsm8k"])
    folder = shared_data("gsm8k_test.jsonl").parent
    monkeypatch.setenv("TULU_RECIPES_EVAL_DIR", str(folder))
    sets = load_eval_sets(["gsm8k", "ifeval"])
    assert (len(sets["gsm8k"]), len(sets["ifeval"])) == (1319, 541)
    # the README's offline command: a training file holding one GSM8K test question is flagged
    question = sets["gsm8k"][0]
    train = tmp_path / "mix.jsonl"
    rows = [{"source": "leaky", "messages": [{"role": "user", "content": question}]}]
    rows += [
        {"source": "clean", "messages": [{"role": "user", "content": f"tell me about the number {i}"}]}
        for i in range(20)
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = [
        "decontaminate",
        "--train",
        str(train),
        "--eval",
        "gsm8k",
        "--mode",
        "report",
        "--out-dir",
        str(tmp_path / "out"),
    ]
    assert cli.main(argv) == 0
    report = json.loads((tmp_path / "out" / "decontamination.json").read_text(encoding="utf-8"))
    counts = {cell["source"]: cell["count"] for cell in report["cells"]}
    assert counts == {"leaky": 1, "clean": 0} and report["flagged_rows"] == {"leaky": [0], "clean": []}


def test_lora_target_modules_accepts_trl_string_form(tmp_path, tiny_base):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"model_name_or_path: {tiny_base}\nuse_peft: true\nlora_target_modules: all-linear\n"
        f"output_dir: {tmp_path}\nuse_cpu: true\n",
        encoding="utf-8",
    )
    _, _, model_args = parse_recipe([TuluScriptArguments, TuluSFTConfig, ModelConfig], [str(recipe)])
    assert model_args.lora_target_modules == "all-linear"
    assert get_peft_config(model_args).target_modules == "all-linear"


def shipped_training_recipes():
    stages = {"sft": "sft", "dpo": "dpo", "reward_model": "reward_model", "rlvr": "rlvr", "rlvr-grpo": "rlvr"}
    return [
        (n, stages[n.rsplit("/", 1)[-1].removesuffix(".yaml")])
        for n in cli.shipped_recipes()
        if n.rsplit("/", 1)[-1].removesuffix(".yaml") in stages
    ]


@pytest.mark.parametrize(("name", "stage"), shipped_training_recipes())
def test_shipped_recipes_load_without_deprecation_warnings(repo_root, name, stage):
    module = importlib.import_module(f"tulu_recipes.stages.{stage}")
    path = str(repo_root / "recipes" / name)
    if stage == "rlvr":
        config_cls = module.ALGORITHMS[module.algorithm_of([path])][0]
        types = [TuluScriptArguments, module.RLVRArguments, config_cls, ModelConfig]
    else:
        types = module.RECIPE_TYPES
    gpu_off = ["--bf16", "false", "--use_cpu", "true", "--optim", "adamw_torch"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        parse_recipe(types, [path, *gpu_off])


def test_world_size_mismatch_is_warned(caplog):
    with caplog.at_level(logging.WARNING, logger="tulu_recipes"):
        # accelerate's CPU launcher with --num_processes 2: a rendezvous address, one process
        assert check_world_size({"ACCELERATE_USE_CPU": "True", "MASTER_ADDR": "127.0.0.1"}) == 1
        assert check_world_size({"ACCELERATE_NUM_PROCESSES": "4", "WORLD_SIZE": "2"}) == 2
        assert len(caplog.records) == 2 and "torchrun --nproc_per_node" in caplog.records[0].message
        assert "Asked for 4 processes, but this run has world size 2" in caplog.records[1].message
        caplog.clear()
        check_world_size({"ACCELERATE_NUM_PROCESSES": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"})
        check_world_size({})
        assert caplog.records == []


def test_quickstart_runs_every_stage_on_one_thread_per_process(quickstart_dir, tmp_path):
    """run.sh exports the thread limit before its first stage, so no stage (SFT and RLVR included) oversubscribes."""
    import subprocess

    script = (quickstart_dir / "run.sh").read_text(encoding="utf-8")
    first_stage = script.index('"$py" -m')
    setup = tmp_path / "setup.sh"
    setup.write_text(script[: script.rindex("\n", 0, first_stage)] + '\necho "$OMP_NUM_THREADS $MKL_NUM_THREADS"\n')
    out = subprocess.run(["bash", str(setup)], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert out.stdout.split()[-2:] == ["1", "1"], out.stderr
    assert script.count('"$py" -m') == 5 and "OMP_NUM_THREADS=" not in script[first_stage:]


def test_recipe_without_checkpointing_keys_keeps_trl_default_without_warning(tmp_path, tiny_base):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"model_name_or_path: {tiny_base}\noutput_dir: {tmp_path}\nuse_cpu: true\n", encoding="utf-8")
    types = [TuluScriptArguments, TuluSFTConfig, ModelConfig]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        _, args, _ = parse_recipe(types, [str(recipe)])
    assert args.activation_checkpointing is True and args.gradient_checkpointing is True  # TRL's default
    with pytest.warns(FutureWarning, match="gradient_checkpointing"):  # the old name still works, and says so
        _, args, _ = parse_recipe(types, [str(recipe), "--gradient_checkpointing", "false"])
    assert args.activation_checkpointing is False
