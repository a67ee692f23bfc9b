"""95% confidence intervals for an evaluation, from its per-prompt predictions.

Each model's metrics get a percentile bootstrap interval over prompts, and each change (a model minus its baseline:
`compare_to`, or else the model listed above it) a paired one: both models on the same resampled prompts
(`tulu_recipes.evaluation.bootstrap`). With more than one task, the average of the primary metrics gets an
interval too, each task resampled on its own (a stratified bootstrap). Everything is computed from the rows of
`predictions/<model>/<task>.jsonl`, so past runs can be re-scored (`benchmarks/paired_ci.py`).

The block added to `results.json` (fractions, like the scores; `null` where a metric is undefined)::

    "confidence_intervals": {"level": 0.95, "method": ..., "resamples": 10000, "seed": 0, "baseline": "base",
      "scores": {model: {task: {metric: [low, high]}}}, "average": {model: [low, high]},
      "changes": {model: {"from": "base", "tasks": {task: {metric: {"change": d, "ci": [low, high]}}},
                          "average": {"change": d, "ci": [low, high]}}}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tulu_recipes.evaluation.bootstrap import Parts, bootstrap_values, check_prompts, percentile_interval

METHOD = "percentile bootstrap over prompts, each change paired (both models on the same resampled prompts)"
IFEVAL_METRICS = ("prompt_level_strict", "instruction_level_strict", "prompt_level_loose", "instruction_level_loose")


def ifeval_verdicts(row: Mapping[str, Any]) -> dict[str, list[bool]]:
    """Per-instruction strict and loose verdicts of one IFEval prediction row (re-checked when the row predates
    their being saved)."""
    if "strict" in row and "loose" in row:
        return {"strict": list(row["strict"]), "loose": list(row["loose"])}
    from rewards.ifeval import check_instructions

    gt = row["ground_truth"]
    gt = json.loads(gt) if isinstance(gt, str) else gt
    return {
        mode: list(
            check_instructions(
                gt.get("prompt", ""),
                row["completion"],
                gt["instruction_id_list"],
                gt.get("kwargs") or [],
                loose=mode == "loose",
            )
        )
        for mode in ("strict", "loose")
    }


def _groups(correct: np.ndarray, groups: Sequence[Any]) -> dict[str, Parts]:
    names = sorted({str(g) for g in groups})
    member = np.array([[str(g) == name for name in names] for g in groups], dtype=float)
    parts = {f"accuracy_{name}": Parts(correct * member[:, j], member[:, j]) for j, name in enumerate(names)}
    parts["_macro"] = Parts(correct[:, None] * member, member)
    return parts


def task_parts(kind: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Parts]:
    """Every metric of a task (the names `scoring.score` gives them) as `Parts` over its prediction rows."""
    ones = np.ones(len(rows))
    if kind in ("ifeval", "ifbench"):  # ifbench rows always carry their saved verdicts
        verdicts = [ifeval_verdicts(r) for r in rows]
        parts = {}
        for mode in ("strict", "loose"):
            parts[f"prompt_level_{mode}"] = Parts([float(all(v[mode])) for v in verdicts], ones)
            parts[f"instruction_level_{mode}"] = Parts(
                [float(sum(v[mode])) for v in verdicts], [float(len(v[mode])) for v in verdicts]
            )
        return {m: parts[m] for m in IFEVAL_METRICS}
    correct = np.array([float(bool(r["correct"])) for r in rows])
    parts = {"accuracy": Parts(correct, ones)}
    groups = [r.get("group") for r in rows]
    if any(g is not None for g in groups):
        by_group = _groups(correct, groups)
        macro = by_group.pop("_macro")
        if kind == "math":
            parts["macro_accuracy"] = macro
        parts.update(by_group)
    if kind == "math" and "macro_accuracy" not in parts:
        parts["macro_accuracy"] = parts["accuracy"]  # no subjects given: one group, as `scoring.score` does
    return parts


def _finite(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def confidence_intervals(
    results: Mapping[str, Any],
    rows: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
    baseline: str | None = None,
    resamples: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """The `confidence_intervals` block for `results` (see the module docstring); `rows[model][task]` are the
    prediction rows in the task's prompt order."""
    if resamples < 1:
        raise ValueError(f"bootstrap_resamples must be at least 1, got {resamples}")
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be between 0 and 1, got {level}")
    models, tasks = list(results["models"]), list(results["tasks"])
    kinds = {t: results["settings"]["tasks"][t]["kind"] for t in tasks}
    for t in tasks:
        for m in models:
            check_prompts(t, len(rows[m][t]))
    parts = {t: {m: task_parts(kinds[t], rows[m][t]) for m in models} for t in tasks}
    values = {t: bootstrap_values(t, parts[t], resamples, seed) for t in tasks}
    primary = results["primary"]
    pairs = (
        [(m, baseline) for m in models if m != baseline]
        if baseline
        else list(zip(models[1:], models[:-1], strict=True))
    )
    block: dict[str, Any] = {
        "level": level,
        "method": METHOD,
        "resamples": resamples,
        "seed": seed,
        "baseline": baseline,
        "scores": {
            m: {t: {k: percentile_interval(v, level) for k, v in values[t][m].items()} for t in tasks} for m in models
        },
    }

    def average(model: str) -> np.ndarray:  # resample r of every task, averaged: a stratified resample
        return np.mean([values[t][model][primary[t]] for t in tasks], axis=0)

    def point(model: str, task: str, metric: str) -> float:  # the reported score, so the tables agree
        score = results["scores"].get(model, {}).get(task, {}).get(metric)
        return parts[task][model][metric].full() if score is None else float(score)

    def full_average(model: str) -> float:
        return sum(100 * point(model, t, primary[t]) for t in tasks) / len(tasks) / 100

    if len(tasks) > 1:
        block["average"] = {m: percentile_interval(average(m), level) for m in models}
    changes: dict[str, Any] = {}
    for model, base in pairs:
        entry: dict[str, Any] = {"from": base, "tasks": {}}
        for t in tasks:
            entry["tasks"][t] = {
                k: {
                    "change": _finite(point(model, t, k) - point(base, t, k)),
                    "ci": percentile_interval(values[t][model][k] - values[t][base][k], level),
                }
                for k in parts[t][model]
            }
        if len(tasks) > 1:
            entry["average"] = {
                "change": full_average(model) - full_average(base),
                "ci": percentile_interval(average(model) - average(base), level),
            }
        changes[model] = entry
    block["changes"] = changes
    return block


def check_task_sizes(sizes: Mapping[str, int]) -> None:
    """A ValueError naming the first task with fewer than 2 prompts."""
    for task, n in sizes.items():
        check_prompts(task, n)


def read_predictions(folder: str | Path) -> dict[str, list[dict]]:
    """`{task: rows}` from a `predictions/<model>/` folder (one `<task>.jsonl` per task)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else [folder]
    out = {}
    for path in files:
        with open(path, encoding="utf-8") as fh:
            out[path.stem] = [json.loads(line) for line in fh if line.strip()]
    return out


def guess_kind(folder: Path, task: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """A task's kind: from the `results.json` of the evaluation that wrote `folder` (`<out>/predictions/<model>/`),
    else IFEval when its gold is an IFEval instruction list, else `verifiable` (accuracy, per group if any)."""
    saved = folder.parent.parent / "results.json"
    if saved.is_file():
        kind = json.loads(saved.read_text(encoding="utf-8")).get("settings", {}).get("tasks", {}).get(task, {})
        if "kind" in kind:
            return kind["kind"]
    gt = rows[0].get("ground_truth") if rows else None
    gt = json.loads(gt) if isinstance(gt, str) and gt.startswith("{") else gt
    return "ifeval" if isinstance(gt, dict) and "instruction_id_list" in gt else "verifiable"


def results_from_predictions(
    folders: Sequence[str | Path], names: Sequence[str] | None = None, kinds: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, list[dict]]]]:
    """A `results` mapping (scores recomputed from the rows) and the rows, for predictions folders of past runs
    (or single `<task>.jsonl` files); only the tasks every folder has are kept, in name order."""
    from tulu_recipes.evaluation.scoring import PRIMARY

    names = list(names) if names else [Path(f).name if Path(f).is_dir() else Path(f).parent.name for f in folders]
    if len(names) != len(folders):
        raise ValueError(f"{len(names)} names for {len(folders)} prediction folders")
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique, got {names}; name them with --names")
    rows = {}
    for name, folder in zip(names, folders, strict=True):
        if not Path(folder).exists():
            raise ValueError(f"{folder}: no such predictions folder or file")
        rows[name] = read_predictions(folder)
    if len(folders) == 2 and all(Path(f).is_file() for f in folders):  # two files of one task, maybe named apart
        first, second = (next(iter(rows[n].values())) for n in names)
        task = Path(folders[0]).stem
        rows = {names[0]: {task: first}, names[1]: {task: second}}
    tasks = sorted(set.intersection(*(set(r) for r in rows.values())))
    if not tasks:
        raise ValueError(f"no task file common to {', '.join(map(str, folders))}")
    for task in tasks:
        sizes = {n: len(rows[n][task]) for n in names}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"task {task!r}: the predictions have different numbers of prompts {sizes}")
        prompts = [[r.get("prompt") for r in rows[n][task]] for n in names]
        if any(p != prompts[0] for p in prompts[1:]):
            raise ValueError(f"task {task!r}: the predictions are not on the same prompts in the same order")
    kinds = dict(kinds or {})
    for task in tasks:
        kinds.setdefault(task, guess_kind(Path(folders[0]), task, rows[names[0]][task]))
    results: dict[str, Any] = {
        "models": names,
        "tasks": tasks,
        "primary": {t: PRIMARY[kinds[t]] for t in tasks},
        "num_examples": {t: len(rows[names[0]][t]) for t in tasks},
        "scores": {
            n: {t: {k: p.full() for k, p in task_parts(kinds[t], rows[n][t]).items()} for t in tasks} for n in names
        },
        "settings": {"tasks": {t: {"kind": kinds[t]} for t in tasks}},
    }
    return results, rows
