"""Paired bootstrap 95% confidence intervals between the predictions of past evaluations.

Re-scores `predictions/<model>/` folders written by `tulu-recipes evaluate` (or single `<task>.jsonl` files of
the same prompts): every model's metrics with a percentile bootstrap interval, and every change from the baseline
(or from the model before) with a paired one, both models on the same resampled prompts. IFEval rows written
before the per-instruction verdicts were saved are re-checked from their completions.

    python benchmarks/paired_ci.py outputs/smollm2/eval/predictions/SmolLM2-135M-Instruct \
        outputs/smollm2/eval/predictions/GRPO [--names base GRPO] [--baseline base] [--json ci.json]
"""

from __future__ import annotations

import argparse
import json
import sys

from tulu_recipes.evaluation.intervals import confidence_intervals, results_from_predictions
from tulu_recipes.evaluation.report import check_baseline, markdown_report
from tulu_recipes.evaluation.scoring import PRIMARY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions", nargs="+", help="predictions folders (or .jsonl files), baseline first")
    parser.add_argument("--names", nargs="+", help="labels, one per folder (default: folder names)")
    parser.add_argument("--baseline", help="report changes from this model (default: the first one)")
    parser.add_argument("--chain", action="store_true", help="each change from the model before it instead")
    parser.add_argument(
        "--kind",
        action="append",
        default=[],
        metavar="TASK=KIND",
        help="a task's scorer (ifeval, math, gsm8k, verifiable) when its results.json is gone",
    )
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--json", help="also write results with the intervals to this file")
    args = parser.parse_args(argv)
    if len(args.predictions) < 2:
        parser.error("give at least two predictions folders")
    try:
        kinds = {}
        for spec in args.kind:
            task, _, kind = spec.partition("=")
            if kind not in PRIMARY:
                raise ValueError(f"--kind {spec!r}: use TASK=KIND with KIND one of {', '.join(PRIMARY)}")
            kinds[task] = kind
        results, rows = results_from_predictions(args.predictions, args.names, kinds)
        baseline = None if args.chain else (args.baseline or results["models"][0])
        check_baseline(baseline, results["models"])
        results["compare_to"] = baseline
        results["confidence_intervals"] = confidence_intervals(
            results, rows, baseline, args.resamples, args.seed, args.level
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(markdown_report(results, baseline), end="")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
            fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
