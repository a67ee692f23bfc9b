"""`evaluate` metric scripts for the three accuracies, loadable offline from the installed package.

    import evaluate
    from tulu_recipes.evaluation import metric_path
    gsm8k = evaluate.load(metric_path("gsm8k"))      # a local script: no Hub access, works with HF_HUB_OFFLINE=1
    gsm8k.compute(predictions=["... The answer is 18."], references=["18"])   # {"accuracy": 1.0}

`evaluate.load` copies a local script into its modules cache and imports it there, so each script holds exactly
one `evaluate.Metric` subclass and calls the shared scoring code through an absolute import.
"""

from __future__ import annotations

from pathlib import Path

METRICS = {"gsm8k": "gsm8k_accuracy.py", "math": "math_accuracy.py", "ifeval": "ifeval_accuracy.py"}


def metric_path(task: str) -> str:
    """Filesystem path of the metric script for `gsm8k`, `math` or `ifeval`."""
    if task not in METRICS:
        raise KeyError(f"no metric for {task!r}; available: {sorted(METRICS)}")
    return str(Path(__file__).resolve().parent / METRICS[task])
