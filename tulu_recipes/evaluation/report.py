"""Evaluation outputs: `results.json` (every metric), `results.md` (primary metrics, one row per model, then each
model's change from the one before or from a named baseline) and `results.png` (grouped bars, one group per task),
all from the same `results` mapping so they always agree.

`results` layout: `{"models": [label, ...], "tasks": [name, ...], "primary": {task: metric},
"scores": {label: {task: {metric: value}}}, "num_examples": {task: n}, "settings": {...}}`; values are
fractions in [0, 1], shown as percentages.
"""

from __future__ import annotations

import json
import textwrap
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


def check_baseline(baseline: str | None, models: list[str]) -> None:
    """A ValueError unless `baseline` is unset or one of `models` (the `compare_to` field)."""
    if baseline is not None and baseline not in models:
        raise ValueError(f"compare_to {baseline!r} is not one of the evaluated models: {', '.join(models)}")


def stage_changes(results: dict[str, Any], baseline: str | None = None) -> str:
    """One line: each model's change in points, on the single task or on the average over tasks; empty for one
    model. Without `baseline`, from the model listed before it (a chain: SFT -> DPO -> RLVR); with it, from that
    model (branches that all start from one model: base -> DPO, base -> GRPO, base -> PPO)."""
    models, tasks = results["models"], results["tasks"]
    if len(models) < 2:
        return ""
    check_baseline(baseline, models)

    def score(model: str) -> float:
        return sum(100 * primary_value(results, model, t) for t in tasks) / len(tasks)

    measure = tasks[0] if len(tasks) == 1 else "average"
    if baseline is None:
        changes = ", ".join(f"{b} {score(b) - score(a):+.1f}" for a, b in zip(models[:-1], models[1:], strict=True))
        return f"Change from the model above ({measure}, points): {changes}\n"
    changes = ", ".join(f"{m} {score(m) - score(baseline):+.1f}" for m in models if m != baseline)
    return f"Change from {baseline} ({measure}, points): {changes}\n"


def markdown_report(results: dict[str, Any], baseline: str | None = None) -> str:
    """The table, then each model's change (from the model above, or from `baseline`)."""
    changes = stage_changes(results, baseline)
    return markdown_table(results) + (f"\n{changes}" if changes else "")


def bar_chart(results: dict[str, Any], path: str | Path, title: str = "Held-out accuracy") -> Path:
    """Grouped bar chart of the primary metrics (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models, tasks = results["models"], results["tasks"]
    width = 0.8 / max(len(models), 1)
    width_in = max(4.0, 1.6 * len(tasks) * max(1, len(models)) / 2 + 2)
    fig, ax = plt.subplots(figsize=(width_in, 3.6))
    for m, model in enumerate(models):
        xs = [t + (m - (len(models) - 1) / 2) * width for t in range(len(tasks))]
        ys = [100 * primary_value(results, model, task) for task in tasks]
        bars = ax.bar(xs, ys, width, label=model)
        ax.bar_label(bars, labels=[f"{y:.1f}" for y in ys], fontsize=7, padding=1)
    ax.set_xticks(range(len(tasks)), [f"{t}\n({results['primary'][t]})" for t in tasks], fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    # about 9 characters an inch at 10 pt
    ax.set_title(textwrap.fill(title, width=int(width_in * 9), break_on_hyphens=False), fontsize=10)
    ax.legend(fontsize=8, ncols=min(len(models), 4), loc="upper right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_reports(
    results: dict[str, Any], output_dir: str | Path, title: str = "Held-out accuracy", baseline: str | None = None
) -> dict[str, Path]:
    """Write results.json, results.md and results.png into `output_dir`; return their paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "markdown": out / "results.md", "chart": out / "results.png"}
    paths["json"].write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown_report(results, baseline), encoding="utf-8")
    bar_chart(results, paths["chart"], title)
    return paths
