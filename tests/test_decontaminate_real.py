"""Decontamination against the real GSM8K / MATH-500 / IFEval prompts in ../shared/data."""

from __future__ import annotations

import json

import pytest
from _shared import shared_data

from tulu_recipes.data.decontamination import build_index, load_eval_sets, scan, tokenize


@pytest.fixture(scope="module")
def evals():
    folder = shared_data("gsm8k_test.jsonl").parent
    for name in ("math_test.jsonl", "ifeval_input_data.jsonl"):
        shared_data(name)
    return load_eval_sets(["gsm8k", "math", "ifeval"], local_dir=folder)


@pytest.fixture(scope="module")
def index(evals):
    return build_index(evals)


def paraphrase(text: str) -> str:
    """Replace every 4th word: no 8 consecutive tokens survive."""
    return " ".join(w if i % 4 else f"altered{i}" for i, w in enumerate(text.split()))


def first_tokens(text: str, fraction: float) -> str:
    tokens = tokenize(text)
    return " ".join(tokens[: int(fraction * len(tokens))])


def user(text: str) -> dict:
    return {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "It is 7."}]}


def clean_rows(n: int) -> list[dict]:
    return [user(f"Write a short poem number {i} about autumn leaves and a quiet river.") for i in range(n)]


def test_default_eval_files_load_with_their_fields(evals, index):
    assert {k: len(v) for k, v in evals.items()} == {"gsm8k": 1319, "math": 500, "ifeval": 541}
    first = json.loads(shared_data("gsm8k_test.jsonl").read_text().splitlines()[0])["question"]
    assert evals["gsm8k"][0] == first
    assert index.set_names == ["gsm8k", "math", "ifeval"]
    assert index.n_instances == 2360


def test_verbatim_and_wrapped_gsm8k_questions_are_found_paraphrases_are_not(evals, index):
    gsm = evals["gsm8k"]
    rows = [user(q) for q in gsm[:30]]  # verbatim
    rows += [user(f"Solve this step by step.\n\n{q}\n\nPut the final answer last.") for q in gsm[30:40]]
    rows += [user(paraphrase(q)) for q in gsm[40:70]]  # paraphrased: every 4th word changed
    rows += [user(first_tokens(q, 0.45)) for q in gsm[70:80]]  # under half of the tokens
    rows += clean_rows(200)
    report = scan(index, {"leaky": rows, "paraphrased": rows[40:80] + clean_rows(20)}, max_examples=1)
    leaky = report.cell("leaky", "gsm8k")
    assert leaky.overlapping == list(range(40))
    assert report.flagged_rows["leaky"] == list(range(40))
    assert leaky.contaminated  # 40 / 1319 = 3.0%
    assert report.cell("paraphrased", "gsm8k").count == 0
    assert [c.count for c in report.cells if c.eval_set != "gsm8k"] == [0, 0, 0, 0]
    assert report.contaminated_sources == ["leaky"]
    example = leaky.examples[0]
    assert (example.train_index, example.eval_index, example.coverage) == (0, 0, 1.0)
    assert example.shared == [" ".join(tokenize(gsm[0]))]


def test_contamination_threshold_on_real_sets(evals, index):
    gsm, math = evals["gsm8k"], evals["math"]
    # 2% of 1319 is 26.38: 26 copies stay below, 27 are above; 2% of 500 is exactly 10: 10 below, 11 above
    sources = {
        "gsm26": [user(q) for q in gsm[100:126]] + clean_rows(50),
        "gsm27": [user(q) for q in gsm[100:127]] + clean_rows(50),
        "math10": [user(p) for p in math[:10]] + clean_rows(50),
        "math11": [user(p) for p in math[:11]] + clean_rows(50),
    }
    report = scan(index, sources)
    pairs = [("gsm26", "gsm8k"), ("gsm27", "gsm8k"), ("math10", "math"), ("math11", "math")]
    assert [report.cell(s, e).count for s, e in pairs] == [26, 27, 10, 11]
    assert report.contaminated_sources == ["gsm27", "math11"]


def test_short_math_problem_embedded_in_a_prompt(evals, index):
    short = [i for i, p in enumerate(evals["math"]) if len(tokenize(p)) < 8]
    assert len(short) == 13
    target = evals["math"][short[0]]
    report = scan(index, {"s": [user(f"Hi! {target} Thanks."), user(target[:-6]), user("Evaluate this.")]})
    assert report.cell("s", "math").overlapping == [short[0]]
    assert report.flagged_rows["s"] == [0]


def test_ifeval_prompt_verbatim_is_found(evals, index):
    prompts = evals["ifeval"]
    report = scan(index, {"s": [user(prompts[7]), user(paraphrase(prompts[8]))] + clean_rows(10)})
    assert report.cell("s", "ifeval").overlapping == [7]
