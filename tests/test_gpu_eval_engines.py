"""Evaluating several models with vLLM: one engine alive at a time. A fake `vllm` module records, for each engine
it builds, how many engines were still alive in that process (a real vLLM engine keeps its GPU memory until it
is shut down, whether or not the Python object is still referenced)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tulu_recipes.evaluation.decoding import chat_prompt_text
from tulu_recipes.evaluation.inference import GenerationSettings, generate, load_tokenizer

FAKE_VLLM = """
import json
import os

LIVE = []  # engines not shut down: the GPU memory they hold


class SamplingParams:
    def __init__(self, temperature, max_tokens):
        self.temperature, self.max_tokens = temperature, max_tokens


class _Out:
    def __init__(self, text):
        self.outputs = [type("Completion", (), {"text": text})()]


class LLM:
    def __init__(self, model, **kwargs):
        with open(os.environ["FAKE_VLLM_LOG"], "a") as fh:
            fh.write(json.dumps({"pid": os.getpid(), "model": model, "live_before": len(LIVE)}) + "\\n")
        LIVE.append(self)

    def generate(self, prompts, params, use_tqdm=True):
        params = params if isinstance(params, list) else [params] * len(prompts)  # vLLM: one, or one per prompt
        return [
            _Out(f"{len(p['prompt_token_ids'])} tokens, greedy={s.temperature == 0.0}, max={s.max_tokens}")
            for p, s in zip(prompts, params, strict=True)
        ]

    def shutdown(self):
        LIVE.remove(self)
"""

PROMPTS = [[{"role": "user", "content": "What is 2 + 3?"}], [{"role": "user", "content": "Name a prime number."}]]


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch, repo_root):
    site = tmp_path / "fake_site"
    (site / "vllm").mkdir(parents=True)
    (site / "vllm" / "__init__.py").write_text(FAKE_VLLM)
    log = tmp_path / "engines.jsonl"
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", f"{site}:{repo_root}")  # the child processes import the fake too
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    yield log
    sys.modules.pop("vllm", None)


def engines(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def expected_texts(model: str, limits: tuple[int, int] = (1024, 1024)) -> list[str]:
    tokenizer = load_tokenizer(model)
    lengths = [len(tokenizer(chat_prompt_text(tokenizer, p), add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    return [f"{n} tokens, greedy=True, max={m}" for n, m in zip(lengths, limits, strict=True)]


def test_each_model_gets_its_own_process_by_default(fake_vllm, tiny_base, tmp_path):
    settings = GenerationSettings(backend="vllm", show_progress=False)
    assert settings.vllm_subprocess
    models = [str(tiny_base), str(tiny_base)]
    outputs = [generate(m, PROMPTS, settings) for m in models]
    assert outputs == [expected_texts(str(tiny_base))] * 2
    seen = engines(fake_vllm)
    assert [e["live_before"] for e in seen] == [0, 0]
    assert len({e["pid"] for e in seen}) == 2 and os.getpid() not in {e["pid"] for e in seen}


def test_in_process_engines_are_shut_down_one_at_a_time(fake_vllm, tiny_base):
    settings = GenerationSettings(backend="vllm", show_progress=False, vllm_subprocess=False)
    for _ in range(3):
        assert generate(str(tiny_base), PROMPTS, settings) == expected_texts(str(tiny_base))
    seen = engines(fake_vllm)
    assert [e["live_before"] for e in seen] == [0, 0, 0] and {e["pid"] for e in seen} == {os.getpid()}
    import vllm

    assert vllm.LIVE == []


def test_each_prompt_gets_its_own_limit_in_the_child(fake_vllm, tiny_base):
    settings = GenerationSettings(backend="vllm", show_progress=False, per_prompt_max_new_tokens=[512, 2048])
    assert generate(str(tiny_base), PROMPTS, settings) == expected_texts(str(tiny_base), (512, 2048))


def test_a_failing_child_names_the_model(fake_vllm, tmp_path):
    settings = GenerationSettings(backend="vllm", show_progress=False)
    with pytest.raises(RuntimeError, match=r"vLLM generation for .*nope failed \(exit 1\)"):
        generate(str(tmp_path / "nope"), PROMPTS, settings)


def test_evaluate_stage_passes_the_choice_to_generation(fake_vllm, tiny_base, quickstart_dir, tmp_path):
    from tulu_recipes.stages.evaluate import main as evaluate_main

    results = evaluate_main(
        [
            "--models", str(tiny_base), str(tiny_base), "--model_names", "a", "b",
            "--tasks", f"held_out={quickstart_dir / 'data' / 'eval.jsonl'}", "--limit", "2",
            "--backend", "vllm", "--vllm_subprocess", "false", "--output_dir", str(tmp_path / "eval"),
            "--disable_tqdm", "true",
        ]
    )  # fmt: skip
    seen = engines(fake_vllm)
    assert [e["live_before"] for e in seen] == [0, 0] and {e["pid"] for e in seen} == {os.getpid()}
    assert results["settings"]["backend"] == "vllm" and results["num_examples"] == {"held_out": 2}
