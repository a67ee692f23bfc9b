"""What every stage does with its data: the mixture table saved, and contaminated sources refused."""

from __future__ import annotations

import json

import pytest
from _shared import shared_data

from tulu_recipes.config import RecipeError
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.stages.mixture import load_stage_data


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_contaminated_source_stops_the_run_unless_allowed(tmp_path):
    gsm8k = shared_data("gsm8k_test.jsonl")
    questions = [json.loads(line)["question"] for line in gsm8k.read_text().splitlines()[:40]]
    dirty = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": "42"}]} for q in questions]
    clean = [
        {"messages": [{"role": "user", "content": f"Say {i}."}, {"role": "assistant", "content": f"{i}"}]}
        for i in range(50)
    ]
    args = TuluScriptArguments(
        dataset_mixer=[
            {"path": write_jsonl(tmp_path / "dirty.jsonl", dirty), "label": "dirty"},
            {"path": write_jsonl(tmp_path / "clean.jsonl", clean), "label": "clean"},
        ],
        decontaminate_against=[f"gsm8k={gsm8k}:question"],
    )
    with pytest.raises(RecipeError, match="contaminated training sources: dirty "):
        load_stage_data(args, seed=1, kind="sft", output_dir=str(tmp_path / "out"))
    report = json.loads((tmp_path / "out" / "decontamination.json").read_text())
    assert report["contaminated_sources"] == ["dirty"]

    args.allow_contaminated = True
    result = load_stage_data(args, seed=1, kind="sft", output_dir=str(tmp_path / "out2"))
    assert len(result.train) == 90
    table = json.loads((tmp_path / "out2" / "mixture.json").read_text())
    assert table["train_rows"] == 90


def test_no_data_is_a_recipe_error():
    with pytest.raises(RecipeError, match="names no data"):
        load_stage_data(TuluScriptArguments(), seed=1, kind="sft", output_dir=None)
