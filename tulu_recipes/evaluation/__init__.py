"""Evaluation: GSM8K (8-shot CoT), MATH (4-shot Minerva), IFEval (zero-shot) and local verifiable JSONL tasks,
scored with the `rewards` verifiers; results as JSON, a markdown table and a chart.

The three accuracies are also `evaluate` metrics: `evaluate.load(metric_path("gsm8k"))` (offline).
"""

from tulu_recipes.evaluation.metrics import metric_path
from tulu_recipes.evaluation.tasks import EvalTask, Example, build_task

__all__ = ["EvalTask", "Example", "build_task", "metric_path"]
