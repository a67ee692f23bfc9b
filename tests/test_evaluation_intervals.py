"""Confidence intervals of the evaluate stage: paired percentile bootstrap over prompts, checked on prediction rows
small enough to verify by hand, in the reports and the chart, end to end on the tiny model, and re-scored from
predictions folders by benchmarks/paired_ci.py. Nothing here reads ../shared."""

from __future__ import annotations

import json
import subprocess
import sys
from math import comb
from pathlib import Path

import numpy as np
import pytest

from tulu_recipes.config import RecipeError
from tulu_recipes.evaluation.bootstrap import bootstrap_values, percentile_interval
from tulu_recipes.evaluation.intervals import confidence_intervals, results_from_predictions, task_parts
from tulu_recipes.evaluation.report import chart_data, chart_figure, markdown_report, write_reports
from tulu_recipes.stages.evaluate import main as evaluate_main

REPO = Path(__file__).resolve().parents[1]

PRIMARY = {"verifiable": "accuracy", "ifeval": "prompt_level_loose", "math": "macro_accuracy"}


def results_for(rows: dict[str, dict[str, list[dict]]], kinds: dict[str, str]) -> dict:
    """A `results` mapping with the scores the rows give (as the evaluate stage builds it)."""
    models, tasks = list(rows), list(kinds)
    return {
        "models": models,
        "tasks": tasks,
        "primary": {t: PRIMARY[kinds[t]] for t in tasks},
        "num_examples": {t: len(rows[models[0]][t]) for t in tasks},
        "scores": {
            m: {t: {k: p.full() for k, p in task_parts(kinds[t], rows[m][t]).items()} for t in tasks} for m in models
        },
        "settings": {"tasks": {t: {"kind": kinds[t]} for t in tasks}},
    }


def verdicts(*correct: bool) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": f"q{i}"}], "correct": ok} for i, ok in enumerate(correct)]


def diffs(rows_a: list[dict], rows_b: list[dict], kind: str, metric: str, seed: int = 0) -> np.ndarray:
    values = bootstrap_values("t", {"A": task_parts(kind, rows_a), "B": task_parts(kind, rows_b)}, 10_000, seed)
    return values["B"][metric] - values["A"][metric]


def test_identical_predictions_give_exactly_zero_change_and_interval():
    rows = verdicts(True, False, True, True, False, False, True)
    ifeval = [
        {"strict": s, "loose": lo}
        for s, lo in [([True, False], [True, True]), ([False], [False]), ([True, True, True], [True, True, True])]
    ]
    both = {"A": {"t": rows, "ife": ifeval}, "B": {"t": list(rows), "ife": list(ifeval)}}
    results = results_for(both, {"t": "verifiable", "ife": "ifeval"})
    block = confidence_intervals(results, both, "A")
    change = block["changes"]["B"]
    assert change["tasks"]["t"]["accuracy"] == {"change": 0.0, "ci": [0.0, 0.0]}
    for metric in ("prompt_level_strict", "instruction_level_strict", "prompt_level_loose", "instruction_level_loose"):
        assert change["tasks"]["ife"][metric] == {"change": 0.0, "ci": [0.0, 0.0]}
    assert change["average"] == {"change": 0.0, "ci": [0.0, 0.0]}
    # each model's own interval is not degenerate: 4 of 7 right
    low, high = block["scores"]["A"]["t"]["accuracy"]
    assert low < 4 / 7 < high


def test_two_prompts_one_more_right_gives_the_hand_computed_interval():
    a, b = verdicts(False, False), verdicts(True, False)
    rows = {"A": {"t": a}, "B": {"t": b}}
    block = confidence_intervals(results_for(rows, {"t": "verifiable"}), rows, "A")
    # a resample draws prompt 1 twice (change 1), prompt 2 twice (0) or one of each (1/2): 1/4, 1/4, 1/2
    assert block["changes"]["B"]["tasks"]["t"]["accuracy"] == {"change": 0.5, "ci": [0.0, 1.0]}
    assert block["scores"]["A"]["t"]["accuracy"] == [0.0, 0.0]
    assert block["scores"]["B"]["t"]["accuracy"] == [0.0, 1.0]
    d = diffs(a, b, "verifiable", "accuracy")
    assert set(np.unique(d)) == {0.0, 0.5, 1.0}
    assert [np.mean(d == v) for v in (0.0, 0.5, 1.0)] == pytest.approx([0.25, 0.5, 0.25], abs=0.02)
    # B minus A, not A minus B
    swapped = confidence_intervals(results_for(rows, {"t": "verifiable"}), rows, "B")
    assert swapped["changes"]["A"]["tasks"]["t"]["accuracy"] == {"change": -0.5, "ci": [-1.0, 0.0]}


def binomial_quantile(p: float, n: int, q: float) -> int:
    total = 0.0
    for k in range(n + 1):
        total += comb(n, k) * q**k * (1 - q) ** (n - k)
        if total >= p:
            return k
    return n


def test_interval_bounds_are_the_2_5_and_97_5_percentiles_of_the_paired_resamples():
    # 100 prompts: both right on 30, only B on 20, both wrong on 50. A paired resample's change is X / 100 with
    # X ~ Binomial(100, 0.2), whose exact 2.5% and 97.5% quantiles are 12 and 28 (a 90% interval: 14 and 27).
    a = verdicts(*[i < 30 for i in range(100)])
    b = verdicts(*[i < 50 for i in range(100)])
    assert (binomial_quantile(0.025, 100, 0.2), binomial_quantile(0.975, 100, 0.2)) == (12, 28)
    rows = {"A": {"t": a}, "B": {"t": b}}
    block = confidence_intervals(results_for(rows, {"t": "verifiable"}), rows, "A")
    entry = block["changes"]["B"]["tasks"]["t"]["accuracy"]
    assert entry["change"] == pytest.approx(0.2)
    assert entry["ci"] == pytest.approx([0.12, 0.28], abs=0.011)
    # unpaired resamples of two accuracies (30% and 50%) would give a far wider interval, about +/- 0.13
    assert entry["ci"][1] - entry["ci"][0] < 0.18


def test_same_seed_same_intervals_other_seed_other_resamples():
    a = verdicts(*[i % 3 == 0 for i in range(60)])
    b = verdicts(*[i % 2 == 0 for i in range(60)])
    rows = {"A": {"t": a}, "B": {"t": b}}
    results = results_for(rows, {"t": "verifiable"})
    first = confidence_intervals(results, rows, "A", seed=7)
    assert confidence_intervals(results, rows, "A", seed=7) == first
    assert not np.array_equal(
        diffs(a, b, "verifiable", "accuracy", seed=7), diffs(a, b, "verifiable", "accuracy", seed=8)
    )


def test_fewer_than_two_prompts_refuses_a_confidence_interval():
    rows = {"A": {"t": verdicts(True)}, "B": {"t": verdicts(False)}}
    with pytest.raises(ValueError, match="task 't' has 1 prompt: a bootstrap confidence interval needs at least 2"):
        confidence_intervals(results_for(rows, {"t": "verifiable"}), rows, "A")


def test_instruction_level_resamples_whole_prompts_not_instructions():
    # prompt 1: 3 instructions, all kept by B loosely (2 strictly), none by A; prompt 2: 1 instruction, both fail.
    a = [{"strict": [False] * 3, "loose": [False] * 3}, {"strict": [False], "loose": [False]}]
    b = [{"strict": [True, True, False], "loose": [True, True, True]}, {"strict": [False], "loose": [False]}]
    rows = {"A": {"ife": a}, "B": {"ife": b}}
    block = confidence_intervals(results_for(rows, {"ife": "ifeval"}), rows, "A")
    change = block["changes"]["B"]["tasks"]["ife"]
    assert {k: v["change"] for k, v in change.items()} == pytest.approx(
        {
            "prompt_level_strict": 0.0,
            "instruction_level_strict": 0.5,
            "prompt_level_loose": 0.5,
            "instruction_level_loose": 0.75,
        }
    )
    assert change["prompt_level_strict"]["ci"] == [0.0, 0.0]
    # resampled prompts {1,1}, {1,2}, {2,2}: 3/3, 3/4, 0/1; resampled instructions would also give 1/4 and 2/4
    d = diffs(a, b, "ifeval", "instruction_level_loose")
    assert set(np.unique(d)) == {0.0, 0.75, 1.0}
    assert change["instruction_level_loose"]["ci"] == [0.0, 1.0]


def test_math_macro_average_gets_a_paired_interval_over_its_subjects():
    subjects = ["Algebra"] * 4 + ["Geometry"] * 2
    a = [dict(r, group=g) for r, g in zip(verdicts(True, False, False, False, True, False), subjects, strict=True)]
    b = [dict(r, group=g) for r, g in zip(verdicts(True, True, False, False, True, True), subjects, strict=True)]
    rows = {"A": {"math": a}, "B": {"math": b}}
    results = results_for(rows, {"math": "math"})
    # A: (1/4 + 1/2) / 2 = 0.375; B: (2/4 + 2/2) / 2 = 0.75
    assert results["scores"]["A"]["math"]["macro_accuracy"] == pytest.approx(0.375)
    assert results["scores"]["B"]["math"]["accuracy_Geometry"] == pytest.approx(1.0)
    block = confidence_intervals(results, rows, "A")
    macro = block["changes"]["B"]["tasks"]["math"]["macro_accuracy"]
    assert macro["change"] == pytest.approx(0.375)
    assert macro["ci"][0] >= 0.0 and macro["ci"][1] <= 1.0 and macro["ci"][0] < macro["ci"][1]


def test_percentile_interval_of_known_values():
    values = np.arange(1, 1001) / 1000  # 0.001 ... 1.000
    assert percentile_interval(values) == [0.025, 0.975]
    assert percentile_interval(values, 0.9) == [0.05, 0.95]
    assert percentile_interval(np.array([np.nan, np.nan])) is None


def branch_rows() -> dict[str, dict[str, list[dict]]]:
    return {
        "base": {"heldout": verdicts(*[i < 30 for i in range(100)])},
        "GRPO": {"heldout": verdicts(*[i < 50 for i in range(100)])},
        "PPO": {"heldout": verdicts(*[10 <= i < 35 for i in range(100)])},
    }


def test_results_json_and_markdown_carry_the_intervals(tmp_path):
    rows = branch_rows()
    results = results_for(rows, {"heldout": "verifiable"})
    results["compare_to"] = "base"
    results["confidence_intervals"] = confidence_intervals(results, rows, "base")
    paths = write_reports(results, tmp_path, "branches", "base")
    saved = json.loads(paths["json"].read_text())
    grpo = saved["confidence_intervals"]["changes"]["GRPO"]["tasks"]["heldout"]["accuracy"]
    ppo = saved["confidence_intervals"]["changes"]["PPO"]["tasks"]["heldout"]["accuracy"]
    assert grpo["change"] == pytest.approx(0.2) and grpo["ci"] == pytest.approx([0.12, 0.28], abs=0.011)
    # PPO: right on 25 (10-34) against 30 (0-29): loses 10 prompts, gains 5
    assert ppo["change"] == pytest.approx(-0.05) and ppo["ci"][0] < -0.05 < ppo["ci"][1]
    text = paths["markdown"].read_text()
    g_lo, g_hi = (100 * v for v in grpo["ci"])
    p_lo, p_hi = (100 * v for v in ppo["ci"])
    line = (
        f"Change from base (heldout, points): GRPO +20.0 [{g_lo:+.1f}, {g_hi:+.1f}], "
        f"PPO -5.0 [{p_lo:+.1f}, {p_hi:+.1f}]"
    )
    assert line in text
    base_lo, base_hi = (100 * v for v in saved["confidence_intervals"]["scores"]["base"]["heldout"]["accuracy"])
    assert f"| base | 30.0 [{base_lo:.1f}, {base_hi:.1f}] |" in text
    assert f"| GRPO - base | +20.0 [{g_lo:+.1f}, {g_hi:+.1f}] |" in text
    assert "| base | 30.0 |" in text  # the plain table stays as it was
    assert markdown_report(saved) == text  # the model card reads results.json: same report


def test_chart_draws_each_interval_as_an_error_bar():
    from matplotlib.container import BarContainer

    rows = branch_rows()
    results = results_for(rows, {"heldout": "verifiable"})
    results["confidence_intervals"] = confidence_intervals(results, rows, "base")
    data = chart_data(results, "base")
    block = results["confidence_intervals"]
    assert data["scores"]["GRPO"]["heldout"]["low"] == pytest.approx(
        100 * block["scores"]["GRPO"]["heldout"]["accuracy"][0]
    )
    assert data["changes"]["GRPO"]["heldout"]["value"] == pytest.approx(20.0)
    fig = chart_figure(results, "branches", "base")
    scores_ax, changes_ax = fig.axes
    bars = [c for c in scores_ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == ["base", "GRPO", "PPO"]
    for bar, model in zip(bars, ["base", "GRPO", "PPO"], strict=True):
        (segment,) = bar.errorbar.lines[2][0].get_segments()
        low, high = (100 * v for v in block["scores"][model]["heldout"]["accuracy"])
        assert segment[:, 1] == pytest.approx([low, high])
    change_bars = [c for c in changes_ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in change_bars] == ["GRPO - base", "PPO - base"]
    for bar, model in zip(change_bars, ["GRPO", "PPO"], strict=True):
        (segment,) = bar.errorbar.lines[2][0].get_segments()
        entry = block["changes"][model]["tasks"]["heldout"]["accuracy"]
        assert segment[:, 1] == pytest.approx([100 * v for v in entry["ci"]])
        assert bar.patches[0].get_height() == pytest.approx(100 * entry["change"])
    import matplotlib.pyplot as plt

    plt.close(fig)
    no_ci = results_for(rows, {"heldout": "verifiable"})
    fig = chart_figure(no_ci, "plain")
    assert len(fig.axes) == 1 and all(c.errorbar is None for c in fig.axes[0].containers if isinstance(c, BarContainer))
    plt.close(fig)


IFEVAL_ROWS = [
    {
        "prompt": "Write about cats in all lowercase letters.",
        "instruction_id_list": ["change_case:english_lowercase"],
        "kwargs": [{}],
    },
    {
        "prompt": "Write about dogs without any commas, in lowercase.",
        "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
        "kwargs": [{}, {}],
    },
    {"prompt": "Write a haiku. Do not use commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
]


def test_evaluate_stage_ifeval_with_compare_to_writes_paired_intervals(tmp_path, tiny_base, quickstart_dir):
    data = tmp_path / "ifeval.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in IFEVAL_ROWS))
    out = tmp_path / "eval"
    results = evaluate_main(
        [
            "--models",
            str(tiny_base),
            str(tiny_base),
            "--model_names",
            "base",
            "best",
            "--compare_to",
            "base",
            "--tasks",
            f"ifeval={data}",
            f"held_out={quickstart_dir / 'data' / 'eval.jsonl'}",
            "--limit",
            "3",
            "--max_new_tokens",
            "6",
            "--backend",
            "transformers",
            "--output_dir",
            str(out),
            "--disable_tqdm",
            "true",
            "--bootstrap_resamples",
            "2000",
        ]
    )
    saved = json.loads((out / "results.json").read_text())
    block = saved["confidence_intervals"]
    assert (block["resamples"], block["seed"], block["level"], block["baseline"]) == (2000, 0, 0.95, "base")
    change = block["changes"]["best"]["tasks"]["ifeval"]
    for metric in ("prompt_level_strict", "instruction_level_strict", "prompt_level_loose", "instruction_level_loose"):
        assert change[metric] == {"change": 0.0, "ci": [0.0, 0.0]}  # the same model twice, greedy
        low, high = block["scores"]["base"]["ifeval"][metric]
        assert low <= results["scores"]["base"]["ifeval"][metric] <= high
    rows = [json.loads(line) for line in (out / "predictions" / "base" / "ifeval.jsonl").read_text().splitlines()]
    assert [len(r["strict"]) for r in rows] == [1, 2, 1] and all(r["correct"] == all(r["loose"]) for r in rows)
    # the bootstrapped metrics are the scorer's metrics, recomputed from the saved rows
    assert {k: p.full() for k, p in task_parts("ifeval", rows).items()} == pytest.approx(
        results["scores"]["base"]["ifeval"]
    )
    held = [json.loads(line) for line in (out / "predictions" / "best" / "held_out.jsonl").read_text().splitlines()]
    assert [r["group"] for r in held] == ["gsm8k"] * 3
    assert block["changes"]["best"]["tasks"]["held_out"]["accuracy_gsm8k"] == {"change": 0.0, "ci": [0.0, 0.0]}
    assert block["changes"]["best"]["average"] == {"change": 0.0, "ci": [0.0, 0.0]}
    low, high = block["average"]["base"]
    assert (
        low
        <= (
            results["scores"]["base"]["ifeval"]["prompt_level_loose"]
            + results["scores"]["base"]["held_out"]["accuracy"]
        )
        / 2
        <= high
    )
    text = (out / "results.md").read_text()
    assert "| ifeval (n=3) | prompt_level_strict | instruction_level_strict | prompt_level_loose |" in text
    assert "| best - base | +0.0 [+0.0, +0.0] | +0.0 [+0.0, +0.0] | +0.0 [+0.0, +0.0] | +0.0 [+0.0, +0.0] |" in text
    # the predictions re-scored by benchmarks/paired_ci.py give the same block
    cli = tmp_path / "ci.json"
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/paired_ci.py",
            str(out / "predictions" / "base"),
            str(out / "predictions" / "best"),
            "--resamples",
            "2000",
            "--json",
            str(cli),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(cli.read_text())["confidence_intervals"] == block
    assert "Change from base (average, points): best +0.0 [+0.0, +0.0]" in proc.stdout


def test_evaluate_stage_refuses_a_one_prompt_task_before_loading_a_model(tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text(
        json.dumps({"messages": [{"role": "user", "content": "2+2?"}], "ground_truth": "4", "dataset": "gsm8k"}) + "\n"
    )
    with pytest.raises(RecipeError, match="task 'one' has 1 prompt: a bootstrap confidence interval needs at least 2"):
        evaluate_main(
            ["--models", str(tmp_path / "missing"), "--tasks", str(one), "--output_dir", str(tmp_path / "out")]
        )
    assert not (tmp_path / "out").exists()
    with pytest.raises(RecipeError, match=r"model_names \['x y', 'x_y'\] share a predictions folder name"):
        evaluate_main(
            [
                "--models",
                "a",
                "b",
                "--model_names",
                "x y",
                "x_y",
                "--tasks",
                str(one),
                "--output_dir",
                str(tmp_path / "out"),
            ]
        )


def test_paired_ci_rescores_old_ifeval_predictions_from_their_completions(tmp_path):
    """Rows written before the per-instruction verdicts were saved: re-checked from the completion."""
    gt = {
        "instruction_id_list": ["change_case:english_lowercase", "punctuation:no_comma"],
        "kwargs": [{}, {}],
        "prompt": "p",
    }
    good = "the cat sat on the mat and then it slept all day long"
    old = [
        ("Hello, World", good),
        ("the cat sat on the mat, and then it slept", good),
        ("The Cat sat on the mat and then it slept", good),
    ]
    for name, column in (("A", 0), ("B", 1)):
        folder = tmp_path / "predictions" / name
        folder.mkdir(parents=True)
        rows = [
            {
                "prompt": [{"role": "user", "content": f"q{i}"}],
                "completion": pair[column],
                "ground_truth": gt,
                "correct": False,
            }
            for i, pair in enumerate(old)
        ]
        (folder / "ifeval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    results, _ = results_from_predictions([tmp_path / "predictions" / "A", tmp_path / "predictions" / "B"])
    assert results["settings"]["tasks"]["ifeval"]["kind"] == "ifeval"
    # A: instructions kept 0+0, 1+0, 0+1 of 6 -> 2/6, no prompt; B: all 6, all 3
    assert results["scores"]["A"]["ifeval"]["instruction_level_strict"] == pytest.approx(2 / 6)
    assert results["scores"]["A"]["ifeval"]["prompt_level_strict"] == 0.0
    assert results["scores"]["B"]["ifeval"]["prompt_level_loose"] == pytest.approx(1.0)
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/paired_ci.py",
            str(tmp_path / "predictions" / "A"),
            str(tmp_path / "predictions" / "B"),
            "--names",
            "old",
            "new",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Change from old (ifeval, points): new +100.0 [+100.0, +100.0]" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "benchmarks/paired_ci.py", str(tmp_path / "predictions" / "A"), str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert bad.returncode == 2 and bad.stderr.strip().endswith("no such predictions folder or file")
