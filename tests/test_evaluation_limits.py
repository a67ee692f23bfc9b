"""Each evaluation task generates up to its OLMES limit (gsm8k::tulu 512, minerva_math::tulu 1024, ifeval::tulu
2048) unless a recipe sets one `max_new_tokens` for all of them."""

import json
from pathlib import Path

import pytest

from tulu_recipes.evaluation import inference, runner
from tulu_recipes.evaluation.inference import GenerationSettings
from tulu_recipes.evaluation.tasks import build_task
from tulu_recipes.stages.evaluate import EvalArguments


def write_rows(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def tasks(tmp_path):
    gsm8k = write_rows(tmp_path / "g.jsonl", [{"question": f"{i} + 1?", "answer": f"#### {i + 1}"} for i in range(3)])
    math = write_rows(tmp_path / "m.jsonl", [{"problem": "1 + 1?", "answer": "2", "subject": "Algebra"}] * 2)
    ifeval = write_rows(
        tmp_path / "i.jsonl", [{"prompt": "Say hi.", "instruction_id_list": [], "kwargs": [], "key": 1}]
    )
    local = write_rows(
        tmp_path / "v.jsonl",
        [{"messages": [{"role": "user", "content": "1+1?"}], "ground_truth": "2", "dataset": "gsm8k"}],
    )
    return [build_task(f"gsm8k={gsm8k}"), build_task(f"math={math}"), build_task(f"ifeval={ifeval}"), build_task(local)]


def test_builtin_tasks_carry_the_olmes_generation_limits(tasks):
    assert [(t.name, t.max_new_tokens) for t in tasks] == [
        ("gsm8k", 512),
        ("math", 1024),
        ("ifeval", 2048),
        ("v", 1024),
    ]


def run(monkeypatch, tasks, settings, own_limits):
    seen = {}

    def fake_generate(path, prompts, settings, desc=""):
        seen["settings"] = settings
        return [""] * len(prompts)

    monkeypatch.setattr(runner, "generate", fake_generate)
    results = runner.evaluate_models([("m", "model")], tasks, settings, own_limits=own_limits)
    return seen["settings"], results


def test_each_prompt_gets_its_tasks_limit_unless_one_limit_is_set(monkeypatch, tasks):
    settings, results = run(monkeypatch, tasks, GenerationSettings(max_new_tokens=1024), own_limits=True)
    assert settings.per_prompt_max_new_tokens == [512] * 3 + [1024] * 2 + [2048] + [1024]
    assert results["settings"]["max_new_tokens"] == {"gsm8k": 512, "math": 1024, "ifeval": 2048, "v": 1024}

    settings, results = run(monkeypatch, tasks, GenerationSettings(max_new_tokens=64), own_limits=False)
    assert settings.per_prompt_max_new_tokens is None and settings.max_new_tokens == 64
    assert set(results["settings"]["max_new_tokens"].values()) == {64}


def test_transformers_batches_share_one_limit(monkeypatch):
    calls = []

    def fake_greedy(model, tokenizer, prompts, max_new_tokens, batch_size):
        calls.append((sorted(p[0]["content"] for p in prompts), max_new_tokens))
        return [p[0]["content"] for p in prompts]

    monkeypatch.setattr("tulu_recipes.evaluation.decoding.generate_greedy", fake_greedy)
    monkeypatch.setattr("transformers.AutoModelForCausalLM.from_pretrained", lambda *a, **k: None)
    monkeypatch.setattr(inference, "load_tokenizer", lambda *a, **k: FakeTokenizer())
    prompts = [[{"role": "user", "content": c}] for c in ("a", "bb", "c", "ddd")]
    settings = GenerationSettings(per_prompt_max_new_tokens=[512, 2048, 512, 2048], batch_size=8, show_progress=False)
    out = inference._transformers_generate("model", prompts, settings, "test")
    assert out == ["a", "bb", "c", "ddd"]
    assert sorted(calls, key=lambda c: c[1]) == [(["a", "c"], 512), (["bb", "ddd"], 2048)]


class FakeTokenizer:
    pad_token_id = 0
    chat_template = "x"

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return messages[-1]["content"]


def test_evaluate_recipes_default_to_the_task_limits(repo_root):
    assert EvalArguments.max_new_tokens is None
    from tulu_recipes.config import parse_recipe

    (paper,) = parse_recipe([EvalArguments], [str(repo_root / "recipes" / "tulu3-8b" / "evaluate.yaml")])
    assert paper.max_new_tokens is None
