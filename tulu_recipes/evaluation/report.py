"""Evaluation outputs: `results.json` (every metric), `results.md` (primary metrics, one row per model, then each
model's change from the one before) and `results.png` (grouped bars, one group per task), all from the same
`results` mapping so they always agree.

`results` layout: `{"models": [label, ...], "tasks": [name, ...], "primary": {task: metric},
"scores": {label: {task: {metric: value}}}, "num_examples": {task: n}, "settings": {...}}`; values are
fractions in [0, 1], shown as percentages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def primary_value(results: dict[str, Any], model: str, task: str) -> float:
    return results["scores"][model][task][results["primary"][task]]


def markdown_table(results: dict[str, Any]) -> str:
    """Models as rows, tasks as columns (primary metric, percent, one decimal), plus the average when >1 task."""
    tasks = results["tasks"]
    many = len(tasks) > 1
    header = ["Model"] + [f"{t} ({results['primary'][t]}, n={results['num_examples'][t]})" for t in tasks]
    header += ["Average"] if many else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]
    for model in results["models"]:
        values = [100 * primary_value(results, model, t) for t in tasks]
        cells = [f"{v:.1f}" for v in values] + ([f"{sum(values) / len(values):.1f}"] if many else [])
        lines.append("| " + " | ".join([model] + cells) + " |")
    return "\n".join(lines) + "\n"


def stage_changes(results: dict[str, Any]) -> str:
    """One line: each model's change in points from the model listed before it (e.g. SFT -> DPO -> RLVR), on the
    single task or on the average over tasks; empty for one model."""
    models, tasks = results["models"], results["tasks"]
    if len(models) < 2:
        return ""

    def score(model: str) -> float:
        return sum(100 * primary_value(results, model, t) for t in tasks) / len(tasks)

    changes = ", ".join(f"{b} {score(b) - score(a):+.1f}" for a, b in zip(models[:-1], models[1:], strict=True))
    measure = tasks[0] if len(tasks) == 1 else "average"
    return f"Change from the model above ({measure}, points): {changes}\n"


def markdown_report(results: dict[str, Any]) -> str:
    """The table, then the change from model to model."""
    changes = stage_changes(results)
    return markdown_table(results) + (f"\n{changes}" if changes else "")


def bar_chart(results: dict[str, Any], path: str | Path, title: str = "Held-out accuracy") -> Path:
    """Grouped bar chart of the primary metrics (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, tasks = results["models"], results["tasks"]
    width = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(tasks) * max(1, len(models)) / 2 + 2), 3.6))
    for m, model in enumerate(models):
        xs = [t + (m - (len(models) - 1) / 2) * width for t in range(len(tasks))]
        ys = [100 * primary_value(results, model, task) for task in tasks]
        bars = ax.bar(xs, ys, width, label=model)
        ax.bar_label(bars, labels=[f"{y:.1f}" for y in ys], fontsize=7, padding=1)
    ax.set_xticks(range(len(tasks)), [f"{t}\n({results['primary'][t]})" for t in tasks], fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=8, ncols=min(len(models), 4), loc="upper right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_reports(results: dict[str, Any], output_dir: str | Path, title: str = "Held-out accuracy") -> dict[str, Path]:
    """Write results.json, results.md and results.png into `output_dir`; return their paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "results.md", "chart": out / "results.png"}
    paths["json"].write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown_report(results), encoding="utf-8")
    bar_chart(results, paths["chart"], title)
    return paths
