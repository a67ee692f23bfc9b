"""Score completions with the same `rewards` verifiers the RLVR stage trains on, so train and eval agree.

Metrics (fractions in [0, 1]):
- gsm8k: `accuracy` (exact match on the final number, `rewards.gsm8k`).
- math: `accuracy` (flex match, `rewards.math_flex`) and `macro_accuracy` (mean over subjects, the paper's number).
- ifeval: prompt- and instruction-level accuracy, strict and loose (`rewards.ifeval`); the paper reports
  prompt-level loose.
- ifbench: the same four accuracies as ifeval, by `rewards.ifbench` (IFBench's 58 constraints).
- verifiable (local JSONL): `accuracy`, plus `accuracy_<dataset>` per verifier.
Each task has one `PRIMARY` metric, the one the tables and charts show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PRIMARY = {
    "gsm8k": "accuracy",
    "math": "macro_accuracy",
    "ifeval": "prompt_level_loose",
    "ifbench": "prompt_level_loose",
    "verifiable": "accuracy",
}


@dataclass
class TaskScore:
    """Metrics of one task plus the per-example verdict used for the primary metric."""

    metrics: dict[str, float]
    primary: str
    correct: list[bool] = field(repr=False)
    # per-example fields saved with each prediction (IFEval: per-instruction `strict` and `loose` verdicts), so
    # every metric, not only the primary one, can be recomputed and bootstrapped from the predictions
    details: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def value(self) -> float:
        return self.metrics[self.primary]


def _mean(values: Sequence[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def verdicts(verifier: str, completions: Sequence[str], ground_truths: Sequence[Any], **columns: Any) -> list[bool]:
    """True where the named verifier gives a completion its full reward (`columns`: e.g. `dataset` for routing)."""
    from rewards import load_reward

    scores = load_reward(verifier)(completions=list(completions), ground_truth=list(ground_truths), **columns)
    return [s is not None and s > 0 for s in scores]


def ifeval_metrics(
    completions: Sequence[str], ground_truths: Sequence[dict], check_instructions: Any = None
) -> tuple[dict[str, float], list[bool], list[dict[str, list[bool]]]]:
    """Prompt/instruction-level strict and loose accuracy; returns the per-prompt loose verdicts and each prompt's
    per-instruction `strict` and `loose` verdicts too. `check_instructions`: IFEval's checker unless given."""
    if check_instructions is None:
        from rewards.ifeval import check_instructions

    metrics: dict[str, float] = {}
    per_prompt: dict[str, list[bool]] = {}
    details: list[dict[str, list[bool]]] = [{} for _ in completions]
    for mode in ("strict", "loose"):
        results = [
            check_instructions(
                gt.get("prompt", ""), text, gt["instruction_id_list"], gt.get("kwargs") or [], loose=mode == "loose"
            )
            for text, gt in zip(completions, ground_truths, strict=True)
        ]
        for d, r in zip(details, results, strict=True):
            d[mode] = [bool(v) for v in r]
        per_prompt[mode] = [all(r) for r in results]
        metrics[f"prompt_level_{mode}"] = _mean(per_prompt[mode])
        flat = [v for r in results for v in r]
        metrics[f"instruction_level_{mode}"] = _mean(flat)
    return metrics, per_prompt["loose"], details


def score(
    kind: str,
    completions: Sequence[str],
    ground_truths: Sequence[Any],
    verifiers: Sequence[str] | None = None,
    groups: Sequence[str | None] | None = None,
) -> TaskScore:
    """Score one task's completions (`kind` as in `EvalTask.kind`)."""
    if len(completions) != len(ground_truths):
        raise ValueError(f"{len(completions)} completions but {len(ground_truths)} ground truths")
    if kind in ("ifeval", "ifbench"):
        import json

        from tulu_recipes.evaluation.ifbench import check_instructions as ifbench_check

        truths = [json.loads(g) if isinstance(g, str) else g for g in ground_truths]
        metrics, correct, details = ifeval_metrics(completions, truths, ifbench_check if kind == "ifbench" else None)
        return TaskScore(metrics, PRIMARY[kind], correct, details)
    if kind in ("gsm8k", "math"):
        correct = verdicts(kind, completions, ground_truths)
    elif kind == "verifiable":
        if verifiers is None:
            raise ValueError("a verifiable task needs one verifier name per example")
        # routed by the same dispatcher as training's `verifiable` reward: one rule for which verifier judges a row
        correct = verdicts("verifiable", completions, ground_truths, dataset=list(verifiers))
    else:
        raise ValueError(f"unknown task kind {kind!r}")
    metrics = {"accuracy": _mean(correct)}
    if groups is not None and any(g is not None for g in groups):
        by_group: dict[str, list[bool]] = {}
        for ok, g in zip(correct, groups, strict=True):
            by_group.setdefault(str(g), []).append(ok)
        if kind == "math":
            metrics["macro_accuracy"] = _mean([_mean(v) for v in by_group.values()]) if by_group else 0.0
        for g, values in sorted(by_group.items()):
            metrics[f"accuracy_{g}"] = _mean(values)
    if kind == "math" and "macro_accuracy" not in metrics:
        metrics["macro_accuracy"] = metrics["accuracy"]  # no subjects given: one group
    return TaskScore(metrics, PRIMARY[kind], correct)
