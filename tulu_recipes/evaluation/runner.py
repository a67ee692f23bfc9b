"""Evaluate several models on several tasks: one generation pass per model over all prompts, then scoring.

Per-example outputs go to `<output_dir>/predictions/<model>/<task>.jsonl` (prompt, completion, gold, verdict, and
the `group` and IFEval per-instruction verdicts where a task has them), so any number in the table can be traced
back to the completions behind it, and bootstrapped from them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tulu_recipes.evaluation.inference import GenerationSettings, generate, resolve_backend
from tulu_recipes.evaluation.scoring import PRIMARY, TaskScore, score
from tulu_recipes.evaluation.tasks import EvalTask

logger = logging.getLogger("tulu_recipes")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def score_task(task: EvalTask, completions: Sequence[str]) -> TaskScore:
    return score(
        task.kind,
        completions,
        [e.ground_truth for e in task.examples],
        verifiers=[e.verifier for e in task.examples],
        groups=[e.group for e in task.examples],
    )


def predictions_path(output_dir: str | Path, label: str, task: str) -> Path:
    return Path(output_dir) / "predictions" / _safe(label) / f"{task}.jsonl"


def _write_predictions(path: Path, task: EvalTask, completions: Sequence[str], result: TaskScore) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    details = result.details or [{} for _ in completions]
    with open(path, "w", encoding="utf-8") as fh:
        for ex, text, ok, extra in zip(task.examples, completions, result.correct, details, strict=True):
            row = {"prompt": ex.messages, "completion": text, "ground_truth": ex.ground_truth, "correct": ok}
            row.update({"group": ex.group} if ex.group is not None else {}, **extra)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def evaluate_models(
    models: Sequence[tuple[str, str]],
    tasks: Sequence[EvalTask],
    settings: GenerationSettings,
    output_dir: str | Path | None = None,
    own_limits: bool = False,
) -> dict[str, Any]:
    """`models`: (label, path) pairs. Returns the `results` mapping described in `tulu_recipes.evaluation.report`.
    `own_limits`: each task generates up to its own `max_new_tokens` (OLMES's), else all up to the settings'."""
    labels = [label for label, _ in models]
    if len(set(labels)) != len(labels):
        raise ValueError(f"model labels must be unique, got {labels}")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be unique, got {names}")
    results: dict[str, Any] = {
        "models": labels,
        "model_paths": {label: str(path) for label, path in models},
        "tasks": names,
        "primary": {t.name: PRIMARY[t.kind] for t in tasks},
        "num_examples": {t.name: len(t.examples) for t in tasks},
        "scores": {},
        "settings": {
            "backend": resolve_backend(settings.backend),
            "decoding": "greedy",
            "max_new_tokens": {t.name: t.max_new_tokens if own_limits else settings.max_new_tokens for t in tasks},
            "tasks": {t.name: {"kind": t.kind, **t.settings} for t in tasks},
        },
    }
    prompts = [ex.messages for t in tasks for ex in t.examples]
    if own_limits:
        settings = replace(settings, per_prompt_max_new_tokens=[t.max_new_tokens for t in tasks for _ in t.examples])
    for label, path in models:
        completions = generate(str(path), prompts, settings, desc=f"{label}")
        results["scores"][label] = {}
        start = 0
        for task in tasks:
            chunk = completions[start : start + len(task.examples)]
            start += len(task.examples)
            result = score_task(task, chunk)
            results["scores"][label][task.name] = result.metrics
            logger.info("%s %s: %s %.4f", label, task.name, result.primary, result.value)
            if output_dir is not None:
                _write_predictions(predictions_path(output_dir, label, task.name), task, chunk, result)
    return results
