"""The SmolLM2 prompt sets (recipes/smollm2-135m/make_prompts.py): rebuilt byte for byte, train / dev / held-out
disjoint in topics, held-out large enough for a confidence interval of a few points, one constraint mix."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "smollm2-135m"


@pytest.fixture(scope="module")
def make_prompts():
    spec = importlib.util.spec_from_file_location("make_prompts", RECIPE / "make_prompts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_shipped_files_are_what_the_script_writes(tmp_path, make_prompts):
    make_prompts.main(["--out", str(tmp_path)])
    for name in ("rlvr_train", "heldout", "dev"):
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (RECIPE / "data" / f"{name}.jsonl").read_bytes(), name


def test_splits_have_their_sizes_and_only_their_own_topics(make_prompts):
    sizes = {name: n for name, _, n, _ in make_prompts.SPLITS}
    assert sizes == {"rlvr_train": 512, "heldout": 600, "dev": 300}
    assert (len(make_prompts.TRAIN_TOPICS), len(make_prompts.HELDOUT_TOPICS), len(make_prompts.DEV_TOPICS)) == (
        30,
        40,
        20,
    )
    assert make_prompts.shared_topics() == []
    for name, topics, n, _ in make_prompts.SPLITS:
        rows = read(RECIPE / "data" / f"{name}.jsonl")
        assert len(rows) == n
        seen = set()
        for row in rows:
            text = row["messages"][0]["content"]
            found = [t for t in topics for f in make_prompts.FORMS if text.startswith(f"Write {f} about {t}. ")]
            assert len(found) == 1, text
            seen.add(found[0])
        assert seen == set(topics), name  # every topic is used


def test_every_split_draws_from_the_same_constraint_mix(make_prompts):
    for name in ("rlvr_train", "heldout", "dev"):
        funcs = {json.loads(r["ground_truth"])["func_name"] for r in read(RECIPE / "data" / f"{name}.jsonl")}
        assert funcs == make_prompts.SHORT_ANSWER_CONSTRAINTS, name


def test_a_topic_word_shared_between_splits_stops_the_build(tmp_path, make_prompts, monkeypatch):
    splits = [(n, list(t), k, s) for n, t, k, s in make_prompts.SPLITS]
    splits[2][1].append("the ocean")  # a training topic, and its word
    monkeypatch.setattr(make_prompts, "SPLITS", splits)
    assert make_prompts.shared_topics() == ["rlvr_train/dev: ocean", "rlvr_train/dev: the ocean"]
    with pytest.raises(SystemExit, match="splits share topics: rlvr_train/dev: ocean"):
        make_prompts.write_splits(tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_two_ppo_recipes_differ_only_in_where_the_value_model_starts():
    """The paper's value-initialisation comparison (rlvr-ppo.yaml against rlvr-ppo-rm.yaml) is only fair if every
    other setting, precision and threads included, is the same."""
    from tulu_recipes.config import load_yaml

    recipes = Path(__file__).resolve().parents[1] / "recipes" / "smollm2-135m"
    policy_init, rm_init = load_yaml(recipes / "rlvr-ppo.yaml"), load_yaml(recipes / "rlvr-ppo-rm.yaml")
    changed = {k for k in policy_init.keys() | rm_init.keys() if policy_init.get(k) != rm_init.get(k)}
    assert changed == {"value_model_path", "output_dir"}
