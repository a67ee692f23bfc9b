"""Evaluation: task prompts, scoring on the real test sets, the evaluate stage end to end on the tiny model,
and the `evaluate` metric scripts loaded offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _shared import shared_data

from tulu_recipes.config import RecipeError
from tulu_recipes.evaluation.report import markdown_report, stage_changes
from tulu_recipes.evaluation.scoring import score
from tulu_recipes.evaluation.tasks import (
    DATA,
    build_task,
    gsm8k_gold,
    gsm8k_messages,
    gsm8k_prompt,
    ifeval_task,
    math_gold,
    math_messages,
    math_prompt,
    read_jsonl,
)
from tulu_recipes.stages.evaluate import main as evaluate_main


def test_exemplars_pass_their_own_verifiers():
    gsm_shots = read_jsonl(DATA / "gsm8k_8shot.jsonl")
    math_shots = read_jsonl(DATA / "math_minerva_4shot.jsonl")
    assert len(gsm_shots) == 8 and len(math_shots) == 4
    gsm_texts = [f"{s['rationale']} So the answer is {s['answer']}." for s in gsm_shots]
    assert score("gsm8k", gsm_texts, [s["answer"] for s in gsm_shots]).metrics["accuracy"] == 1.0
    minerva = [
        f"{s['solution']}\nFinal Answer: The final answer is ${s['answer']}$. I hope it is correct." for s in math_shots
    ]
    assert score("math", minerva, [s["answer"] for s in math_shots]).metrics["accuracy"] == 1.0


def test_prompts_hold_the_shots_then_the_question():
    prompt = gsm8k_prompt("How many legs do 3 cats have?")
    assert prompt.count("Question: ") == 9 and prompt.count("So the answer is") == 8
    assert prompt.endswith("Question: How many legs do 3 cats have?\nAnswer:")
    assert gsm8k_prompt("Q?", num_shots=2).count("Question: ") == 3
    minerva = math_prompt("What is $1+1$?")
    assert minerva.count("Problem:\n") == 5 and minerva.count("I hope it is correct.") == 4
    assert minerva.endswith("Problem:\nWhat is $1+1$?\n\nSolution:")


def test_math_exemplars_are_separate_chat_turns_by_default(quickstart_dir, tmp_path):
    """minerva_math::tulu: 4 user/assistant exemplar pairs, the problem, then the assistant prefix `Solution:`; each
    exemplar turn passes the MATH verifier. `math_fewshot_as_multiturn: false` keeps the one-turn layout."""
    messages = math_messages("What is $1+1$?")
    assert [m["role"] for m in messages] == ["user", "assistant"] * 5
    assert messages[-2] == {"role": "user", "content": "Problem:\nWhat is $1+1$?"}
    assert messages[-1] == {"role": "assistant", "content": "Solution:"}
    shots = read_jsonl(DATA / "math_minerva_4shot.jsonl")
    answers = [m["content"] for m in messages[1:-2:2]]
    assert all(a.startswith("Solution:\n") and a.endswith("I hope it is correct.") for a in answers)
    assert score("math", answers, [s["answer"] for s in shots]).metrics["accuracy"] == 1.0
    assert len(math_messages("x", num_shots=2)) == 6
    rows = tmp_path / "math.jsonl"
    rows.write_text(json.dumps({"problem": "What is $2+2$?", "answer": "4", "subject": "Algebra"}) + "\n")
    assert build_task(f"math={rows}").examples[0].messages == math_messages("What is $2+2$?")
    one_turn = build_task(f"math={rows}", math_multiturn=False).examples[0].messages
    assert one_turn == [{"role": "user", "content": math_prompt("What is $2+2$?")}]


def test_gsm8k_gold_answers_score_100_and_shifted_ones_almost_0():
    rows = read_jsonl(shared_data("gsm8k_test.jsonl"))
    golds = [gsm8k_gold(r["answer"]) for r in rows]
    assert len(rows) == 1319 and golds[0] == "18"
    assert score("gsm8k", [r["answer"] for r in rows], golds).metrics["accuracy"] == 1.0
    shifted = [r["answer"] for r in rows[1:] + rows[:1]]
    assert score("gsm8k", shifted, golds).metrics["accuracy"] < 0.02  # 15 of 1319 neighbours share the answer


def test_math_gold_solutions_score_500_of_500_with_subject_macro_average():
    rows = read_jsonl(shared_data("math_test.jsonl"))
    result = score(
        "math", [r["solution"] for r in rows], [math_gold(r) for r in rows], groups=[r["subject"] for r in rows]
    )
    # number_theory/459 boxes two forms of one value (15\frac{39}{40}, then \frac{639}{40}): one answer, not a hedge.
    assert sum(result.correct) == 500
    assert result.metrics["accuracy_Number Theory"] == pytest.approx(1.0)
    assert result.metrics["macro_accuracy"] == pytest.approx(1.0)
    assert result.primary == "macro_accuracy"


def test_ifeval_gpt4_responses_score_what_the_ifeval_cli_reports(tmp_path):
    from rewards.ifeval.__main__ import evaluate_files

    inputs, responses = shared_data("ifeval_input_data.jsonl"), shared_data("ifeval_gpt4_responses.jsonl")
    by_prompt = {r["prompt"]: r["response"] for r in read_jsonl(responses)}
    task = ifeval_task(inputs)
    result = score(
        "ifeval", [by_prompt[e.ground_truth["prompt"]] for e in task.examples], [e.ground_truth for e in task.examples]
    )
    cli = evaluate_files(inputs, responses, tmp_path)
    assert len(task.examples) == 541
    for name, percent in cli.items():
        assert 100 * result.metrics[name] == pytest.approx(percent, abs=1e-9)
    assert result.primary == "prompt_level_loose"
    assert round(100 * result.metrics["prompt_level_loose"], 2) == 79.67  # published 79.30 (two random checks)


def test_gsm8k_prompt_is_olmes_gsm8k_tulu_rendered_in_the_tulu_template(tiny_base):
    """8 STD:GSM8k shots as user/assistant turns, the question, then the model continues `Answer:`."""
    from transformers import AutoTokenizer

    from tulu_recipes.chat_templates import load_chat_template
    from tulu_recipes.evaluation.decoding import chat_prompt_text

    task = build_task(f"gsm8k={shared_data('gsm8k_test.jsonl')}", limit=1)
    messages = task.examples[0].messages
    question = read_jsonl(shared_data("gsm8k_test.jsonl"))[0]["question"]
    assert messages == gsm8k_messages(question) and len(messages) == 2 * 8 + 2
    assert [m["role"] for m in messages] == ["user", "assistant"] * 9
    assert messages[0]["content"] == (
        "Question: There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they "
        "are done, there will be 21 trees. How many trees did the grove workers plant today?"
    )
    assert messages[1]["content"] == (
        "Answer: There are 15 trees originally. Then there were 21 trees after some more were planted. So there "
        "must have been 21 - 15 = 6. So the answer is 6."
    )
    assert messages[-2:] == [
        {"role": "user", "content": f"Question: {question}"},
        {"role": "assistant", "content": "Answer:"},
    ]

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    tokenizer.chat_template = load_chat_template("tulu").inference
    eos = tokenizer.eos_token
    shots = read_jsonl(DATA / "gsm8k_8shot.jsonl")
    expected = (
        "".join(
            f"<|user|>\nQuestion: {s['question']}\n<|assistant|>\nAnswer: {s['rationale']} So the answer is "
            f"{s['answer']}.{eos}\n"
            for s in shots[:2]
        )
        + f"<|user|>\nQuestion: {question}\n<|assistant|>\nAnswer:"
    )
    assert chat_prompt_text(tokenizer, gsm8k_messages(question, num_shots=2)) == expected


def test_tasks_need_their_data():
    with pytest.raises(ValueError, match="needs `data_dir`"):
        build_task("gsm8k")
    with pytest.raises(ValueError, match="unknown task"):
        build_task("mmlu")
    with pytest.raises(RecipeError, match="needs `data_dir`"):
        evaluate_main(["--models", "x", "--tasks", "math"])


def test_local_jsonl_task_routes_rows_to_their_verifier(tmp_path, quickstart_dir):
    task = build_task(f"held_out={quickstart_dir / 'data' / 'eval.jsonl'}", limit=5)
    assert task.name == "held_out" and task.kind == "verifiable" and len(task.examples) == 5
    golds = [e.ground_truth for e in task.examples]
    texts = [f"The answer is {g}." for g in golds[:3]] + ["The answer is -1.", "no idea"]
    result = score(
        "verifiable",
        texts,
        golds,
        verifiers=[e.verifier for e in task.examples],
        groups=[e.group for e in task.examples],
    )
    assert result.correct == [True, True, True, False, False]
    assert result.metrics == {"accuracy": 0.6, "accuracy_gsm8k": 0.6}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}], "ground_truth": "1", "dataset": "trivia"}) + "\n"
    )
    with pytest.raises(ValueError, match="no verifier for dataset 'trivia'"):
        build_task(str(bad))


def test_evaluate_stage_on_the_tiny_model_writes_agreeing_outputs(tmp_path, tiny_base, quickstart_dir):
    out = tmp_path / "eval"
    eval_file = quickstart_dir / "data" / "eval.jsonl"
    results = evaluate_main(
        [
            "--models",
            str(tiny_base),
            str(tiny_base),
            "--model_names",
            "base",
            "base_again",
            "--tasks",
            "gsm8k",
            "math",
            "ifeval",
            f"held_out={eval_file}",
            "--data_dir",
            str(shared_data("gsm8k_test.jsonl").parent),
            "--limit",
            "4",
            "--max_new_tokens",
            "8",
            "--backend",
            "transformers",
            "--output_dir",
            str(out),
            "--disable_tqdm",
            "true",
        ]
    )
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert saved["tasks"] == ["gsm8k", "math", "ifeval", "held_out"]
    assert saved["num_examples"] == {"gsm8k": 4, "math": 4, "ifeval": 4, "held_out": 4}
    assert saved["settings"]["backend"] == "transformers"
    assert saved["settings"]["tasks"]["gsm8k"]["num_shots"] == 8
    # Greedy decoding is deterministic: the same model twice gives the same scores and completions.
    assert saved["scores"]["base"] == saved["scores"]["base_again"]
    for task in saved["tasks"]:
        rows = read_jsonl(out / "predictions" / "base" / f"{task}.jsonl")
        again = read_jsonl(out / "predictions" / "base_again" / f"{task}.jsonl")
        assert len(rows) == 4 and [r["completion"] for r in rows] == [r["completion"] for r in again]
        primary = saved["primary"][task]
        if task != "math":  # math's primary is a macro average over subjects
            assert saved["scores"]["base"][task][primary] == sum(r["correct"] for r in rows) / 4
    table = (out / "results.md").read_text().splitlines()
    assert table[0].startswith("| Model | gsm8k (accuracy, n=4) | math (macro_accuracy, n=4)")
    assert table[2].startswith("| base | ") and table[3].startswith("| base_again | ")
    cells = [float(c) for c in table[2].strip("| ").split(" | ")[1:]]
    expected = [100 * saved["scores"]["base"][t][saved["primary"][t]] for t in saved["tasks"]]
    assert cells == pytest.approx([round(v, 1) for v in expected + [sum(expected) / 4]], abs=0.051)
    png = (out / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert (out / "recipe.yaml").exists()


def test_metrics_load_offline_with_evaluate(tmp_path):
    """`evaluate.load(<script in the package>)` with the Hub switched off, in a fresh process."""
    code = """
import json, evaluate
from tulu_recipes.evaluation import metric_path
gsm = evaluate.load(metric_path("gsm8k"))
math = evaluate.load(metric_path("math"))
ife = evaluate.load(metric_path("ifeval"))
gt = json.dumps({"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}], "prompt": "p"})
print(json.dumps({
    "gsm": gsm.compute(predictions=["3 + 4 = 7. The answer is 7.", "The answer is 5."], references=["7", "#### 6"]),
    "math": math.compute(predictions=["$\\\\boxed{\\\\frac{1}{2}}$", "The final answer is $3$."],
                         references=["0.5", "4"]),
    "ifeval": ife.compute(predictions=["all lower case", "Not Lower"], references=[gt, gt]),
    "name": type(gsm).__name__,
}))
"""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["name"] == "Gsm8kAccuracy"
    assert out["gsm"] == {"accuracy": 0.5}
    assert out["math"] == {"accuracy": 0.5}
    assert out["ifeval"]["prompt_level_strict"] == 0.5 and out["ifeval"]["prompt_level_loose"] == 0.5


def test_shipped_evaluation_recipes_parse(repo_root):
    from tulu_recipes.config import parse_recipe
    from tulu_recipes.stages.evaluate import EvalArguments

    (paper,) = parse_recipe([EvalArguments], [str(repo_root / "recipes" / "tulu3-8b" / "evaluate.yaml")])
    assert (paper.tasks, paper.gsm8k_shots, paper.math_shots, paper.max_new_tokens) == (
        ["gsm8k", "math", "ifeval"],
        8,
        4,
        None,  # each task's OLMES limit
    )
    assert paper.model_names == ["SFT", "DPO", "RLVR"] and len(paper.models) == 3
    (quick,) = parse_recipe([EvalArguments], [str(repo_root / "recipes" / "quickstart" / "evaluate.yaml")])
    assert quick.tasks == [str(repo_root / "recipes" / "quickstart" / "data" / "eval.jsonl")]
    assert quick.backend == "transformers"


def test_report_ends_with_each_models_change_from_the_one_before():
    results = {
        "models": ["SFT", "DPO", "RLVR"],
        "tasks": ["gsm8k", "ifeval"],
        "primary": {"gsm8k": "accuracy", "ifeval": "prompt_level_loose"},
        "num_examples": {"gsm8k": 10, "ifeval": 10},
        "scores": {
            "SFT": {"gsm8k": {"accuracy": 0.5}, "ifeval": {"prompt_level_loose": 0.3}},
            "DPO": {"gsm8k": {"accuracy": 0.6}, "ifeval": {"prompt_level_loose": 0.4}},
            "RLVR": {"gsm8k": {"accuracy": 0.7}, "ifeval": {"prompt_level_loose": 0.35}},
        },
    }
    # averages 40.0, 50.0, 52.5
    assert stage_changes(results) == "Change from the model above (average, points): DPO +10.0, RLVR +2.5\n"
    assert markdown_report(results).endswith("| RLVR | 70.0 | 35.0 | 52.5 |\n\n" + stage_changes(results))
    one = dict(results, models=["SFT"])
    assert stage_changes(one) == "" and not markdown_report(one).endswith("\n\n")


def test_report_changes_from_a_named_baseline_for_branches_of_one_model():
    results = {
        "models": ["base", "GRPO", "PPO"],
        "tasks": ["heldout"],
        "primary": {"heldout": "accuracy"},
        "num_examples": {"heldout": 100},
        "scores": {m: {"heldout": {"accuracy": v}} for m, v in (("base", 0.29), ("GRPO", 0.37), ("PPO", 0.29))},
    }
    # from the model above, PPO would read -8.0 (against GRPO); both start from base
    assert stage_changes(results, "base") == "Change from base (heldout, points): GRPO +8.0, PPO +0.0\n"
    assert markdown_report(results, "base").endswith("| PPO | 29.0 |\n\n" + stage_changes(results, "base"))
    with pytest.raises(ValueError, match="compare_to 'SFT' is not one of the evaluated models: base, GRPO, PPO"):
        stage_changes(results, "SFT")


def test_compare_to_an_unknown_model_stops_before_generating(tmp_path):
    with pytest.raises(RecipeError, match="compare_to 'bas' is not one of the evaluated models: base, GRPO"):
        evaluate_main(
            [
                "--models",
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--model_names",
                "base",
                "GRPO",
                "--compare_to",
                "bas",
                "--tasks",
                "gsm8k",
                "--output_dir",
                str(tmp_path / "out"),
            ]
        )
    assert not (tmp_path / "out").exists()


def test_evaluate_never_writes_into_a_model_folder_or_over_results_unless_told(tmp_path, tiny_base, capsys):
    """A model folder keeps its recipe.yaml and card: evaluation into it is refused whatever the overwrite flag says,
    and earlier results need `overwrite_output_dir: true`. Both are checked before any model generates."""
    import shutil

    from _shared import tree

    from tulu_recipes.config import run_cli

    model = tmp_path / "model"
    shutil.copytree(tiny_base, model)
    (model / "recipe.yaml").write_text("learning_rate: 1.0e-05\n")
    before = tree(model)
    task = tmp_path / "t.jsonl"
    task.write_text(json.dumps({"messages": [{"role": "user", "content": "1+1?"}], "ground_truth": "2",
                                "dataset": "gsm8k"}) + "\n")  # fmt: skip

    def refused(argv: list[str]) -> str:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            run_cli(evaluate_main, ["--models", str(tiny_base), "--tasks", str(task), *argv])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err
        return err

    assert "is one of the models" in refused(["--models", str(model), "--output_dir", str(model),
                                              "--overwrite_output_dir", "true"])  # fmt: skip
    into_model = ["--output_dir", str(model), "--overwrite_output_dir", "true"]
    assert "holds a model (model.safetensors)" in refused(into_model)
    assert tree(model) == before

    done = tmp_path / "eval"
    done.mkdir()
    (done / "results.json").write_text("{}")
    assert "holds results (results.json)" in refused(["--output_dir", str(done)])
    assert tree(done) == {"results.json": tree(done)["results.json"]}
