"""Evaluation outputs: `results.json` (every metric), `results.md` (primary metrics, one row per model, then each
model's change from the one before or from a named baseline) and `results.png` (grouped bars, one group per task),
all from the same `results` mapping so they always agree.

`results` layout: `{"models": [label, ...], "tasks": [name, ...], "primary": {task: metric},
"scores": {label: {task: {metric: value}}}, "num_examples": {task: n}, "settings": {...}}`; values are
fractions in [0, 1], shown as percentages. With `confidence_intervals` (`tulu_recipes.evaluation.intervals`) the
change line carries each change's paired 95% interval, a second table every model's interval and every change's,
a table per task with sub-metrics (IFEval, MATH) the same for each of them, and the chart error bars.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

SUB_METRICS = {  # tasks whose sub-metrics get their own interval table
    "ifeval": ["prompt_level_strict", "instruction_level_strict", "prompt_level_loose", "instruction_level_loose"],
    "ifbench": ["prompt_level_strict", "instruction_level_strict", "prompt_level_loose", "instruction_level_loose"],
    "math": ["macro_accuracy", "accuracy"],
}


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
    intervals = _change_intervals(results, baseline)

    def change(model: str, base: str) -> str:
        ci = intervals.get(model)
        return f"{model} {score(model) - score(base):+.1f}" + (f" {_bracket(ci, signed=True)}" if ci else "")

    if baseline is None:
        changes = ", ".join(change(b, a) for a, b in zip(models[:-1], models[1:], strict=True))
        return f"Change from the model above ({measure}, points): {changes}\n"
    changes = ", ".join(change(m, baseline) for m in models if m != baseline)
    return f"Change from {baseline} ({measure}, points): {changes}\n"


def _bracket(ci: list[float] | None, signed: bool = False) -> str:
    if ci is None:
        return "[undefined]"
    fmt = "{:+.1f}" if signed else "{:.1f}"
    return "[" + ", ".join(fmt.format(100 * v) for v in ci) + "]"


def _intervals(results: dict[str, Any], baseline: str | None) -> dict[str, Any] | None:
    """The stored intervals when they were computed against this baseline (`None`: the model above)."""
    block = results.get("confidence_intervals")
    return block if block and block.get("baseline") == baseline else None


def _change_intervals(results: dict[str, Any], baseline: str | None) -> dict[str, list[float] | None]:
    """Each model's paired interval on the change line's measure (the single task's primary metric, or the
    average over tasks)."""
    block = _intervals(results, baseline)
    if block is None:
        return {}
    tasks = results["tasks"]
    if len(tasks) == 1:
        task = tasks[0]
        return {m: c["tasks"][task][results["primary"][task]]["ci"] for m, c in block["changes"].items()}
    return {m: c["average"]["ci"] for m, c in block["changes"].items()}


def interval_tables(results: dict[str, Any], baseline: str | None = None) -> str:
    """Every model's 95% interval and every change's paired one, on the primary metrics (plus the average), then
    on every sub-metric of IFEval and MATH; empty without stored intervals."""
    block = _intervals(results, baseline)
    if block is None:
        return ""
    models, tasks, changes = results["models"], results["tasks"], block["changes"]
    level = f"{100 * block['level']:g}%"
    kinds = {results["settings"]["tasks"][t]["kind"] for t in tasks}
    text = [
        f"{level} confidence intervals, points: {block['method']}; {block['resamples']:,} resamples, seed "
        f"{block['seed']}"
        + (". IFEval's instruction level resamples whole prompts with their instructions" if "ifeval" in kinds else "")
        + ".",
        "",
    ]

    def table(header: list[str], cells: list[tuple[str, list[str]]]) -> list[str]:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]
        return lines + ["| " + " | ".join([label, *row]) + " |" for label, row in cells] + [""]

    many = len(tasks) > 1
    rows = []
    for m in models:
        row = [
            f"{100 * primary_value(results, m, t):.1f} {_bracket(block['scores'][m][t][results['primary'][t]])}"
            for t in tasks
        ]
        if many:
            avg = sum(100 * primary_value(results, m, t) for t in tasks) / len(tasks)
            row.append(f"{avg:.1f} {_bracket(block['average'][m])}")
        rows.append((m, row))
    for m, c in changes.items():
        row = [_change_cell(c["tasks"][t][results["primary"][t]]) for t in tasks]
        rows.append((f"{m} - {c['from']}", row + ([_change_cell(c["average"])] if many else [])))
    header = ["Model"] + [f"{t} ({results['primary'][t]})" for t in tasks] + (["Average"] if many else [])
    text += table(header, rows)
    for t in tasks:
        metrics = SUB_METRICS.get(results["settings"]["tasks"][t]["kind"])
        if not metrics:
            continue
        rows = [
            (m, [f"{100 * results['scores'][m][t][k]:.1f} {_bracket(block['scores'][m][t][k])}" for k in metrics])
            for m in models
        ]
        rows += [(f"{m} - {c['from']}", [_change_cell(c["tasks"][t][k]) for k in metrics]) for m, c in changes.items()]
        text += table([f"{t} (n={results['num_examples'][t]})", *metrics], rows)
    return "\n".join(text)


def _change_cell(entry: dict[str, Any]) -> str:
    change = entry["change"]
    return ("undefined" if change is None else f"{100 * change:+.1f}") + f" {_bracket(entry['ci'], signed=True)}"


def markdown_report(results: dict[str, Any], baseline: str | None = None) -> str:
    """The table, then each model's change (from the model above, or from `baseline`: by default the
    `compare_to` the results were made with), then the confidence intervals when the results have them."""
    baseline = baseline if baseline is not None else results.get("compare_to")
    changes = stage_changes(results, baseline)
    intervals = interval_tables(results, baseline)
    return markdown_table(results) + (f"\n{changes}" if changes else "") + (f"\n{intervals}" if intervals else "")


def chart_data(results: dict[str, Any], baseline: str | None = None) -> dict[str, Any]:
    """What the chart draws, in points: `scores[model][task]` and, with stored intervals, `changes[model][task]`,
    each `{"value", "low", "high"}` (`low`/`high` None without intervals)."""
    baseline = baseline if baseline is not None else results.get("compare_to")
    block = _intervals(results, baseline)
    data: dict[str, Any] = {"scores": {}, "changes": {}, "baseline": baseline}
    for m in results["models"]:
        data["scores"][m] = {}
        for t in results["tasks"]:
            ci = block["scores"][m][t][results["primary"][t]] if block else None
            data["scores"][m][t] = {
                "value": 100 * float(primary_value(results, m, t)),
                "low": 100 * ci[0] if ci else None,
                "high": 100 * ci[1] if ci else None,
            }
    for m, c in (block["changes"] if block else {}).items():
        data["changes"][m] = {"from": c["from"]}
        for t in results["tasks"]:
            entry = c["tasks"][t][results["primary"][t]]
            ci = entry["ci"]
            data["changes"][m][t] = {
                "value": 100 * (entry["change"] or 0.0),
                "low": 100 * ci[0] if ci else None,
                "high": 100 * ci[1] if ci else None,
            }
    return data


def _yerr(points: list[dict[str, Any]]) -> list[list[float]] | None:
    if any(p["low"] is None for p in points):
        return None
    # a percentile interval need not contain the full-sample value; clip so matplotlib draws it
    return [[max(0.0, p["value"] - p["low"]) for p in points], [max(0.0, p["high"] - p["value"]) for p in points]]


def chart_figure(results: dict[str, Any], title: str = "Held-out accuracy", baseline: str | None = None):
    """The figure: grouped bars of the primary metrics with each model's interval and, when the results hold
    paired intervals, a second panel with each change and its paired interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = chart_data(results, baseline)
    models, tasks = results["models"], results["tasks"]
    width = 0.8 / max(len(models), 1)
    width_in = max(4.0, 1.6 * len(tasks) * max(1, len(models)) / 2 + 2)
    panels = 2 if data["changes"] else 1
    fig, axes = plt.subplots(
        1, panels, figsize=(width_in * (1 + 0.6 * (panels - 1)), 3.6), squeeze=False, width_ratios=[1.0, 0.6][:panels]
    )
    ax = axes[0][0]
    colors = {}
    for m, model in enumerate(models):
        xs = [t + (m - (len(models) - 1) / 2) * width for t in range(len(tasks))]
        points = [data["scores"][model][task] for task in tasks]
        ys = [p["value"] for p in points]
        bars = ax.bar(
            xs, ys, width, label=model, yerr=_yerr(points), capsize=3, ecolor="black", error_kw={"elinewidth": 1}
        )
        ax.bar_label(bars, labels=[f"{y:.1f}" for y in ys], fontsize=7, padding=1, label_type="center")
        colors[model] = bars.patches[0].get_facecolor()
    ax.set_xticks(range(len(tasks)), [f"{t}\n({results['primary'][t]})" for t in tasks], fontsize=8)
    block = _intervals(results, data["baseline"])
    level = f"{100 * block['level']:g}%" if block else ""
    ax.set_ylabel("%" + (f", {level} CI" if block else ""))
    ax.set_ylim(0, 105)
    # about 9 characters an inch at 10 pt
    ax.set_title(textwrap.fill(title, width=int(width_in * 9), break_on_hyphens=False), fontsize=10)
    ax.legend(fontsize=8, ncols=min(len(models), 4), loc="upper right")
    if data["changes"]:
        ax2 = axes[0][1]
        changed = list(data["changes"])
        w2 = 0.8 / len(changed)
        for k, model in enumerate(changed):
            xs = [t + (k - (len(changed) - 1) / 2) * w2 for t in range(len(tasks))]
            points = [data["changes"][model][task] for task in tasks]
            label = f"{model} - {data['changes'][model]['from']}"
            ax2.bar(
                xs,
                [p["value"] for p in points],
                w2,
                yerr=_yerr(points),
                capsize=3,
                color=colors.get(model),
                ecolor="black",
                label=label,
                error_kw={"elinewidth": 1},
            )
        ax2.axhline(0.0, color="black", linewidth=0.8)
        if len(tasks) == 1:  # one bar a model: name it and give its number under it
            xs = [(k - (len(changed) - 1) / 2) * w2 for k in range(len(changed))]
            ax2.set_xticks(xs, [f"{m}\n{data['changes'][m][tasks[0]]['value']:+.1f}" for m in changed], fontsize=7)
        else:
            ax2.set_xticks(range(len(tasks)), tasks, fontsize=8)
            ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=min(len(changed), 2))
        base = f"from {data['baseline']}" if data["baseline"] else "from the model above"
        ax2.set_title(
            textwrap.fill(f"Change {base}, points (paired {level} CI)", width=int(width_in * 5.4)), fontsize=9
        )
    fig.tight_layout()
    return fig


def bar_chart(
    results: dict[str, Any], path: str | Path, title: str = "Held-out accuracy", baseline: str | None = None
) -> Path:
    """`chart_figure` saved as PNG (Agg backend: no display needed)."""
    import matplotlib.pyplot as plt

    fig = chart_figure(results, title, baseline)
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
    bar_chart(results, paths["chart"], title, baseline)
    return paths
