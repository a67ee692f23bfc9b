"""Evaluation stage: `tulu-recipes evaluate recipe.yaml` or `python -m tulu_recipes.stages.evaluate --models A B ...`.

Greedy-decodes every model on every task (GSM8K 8-shot CoT, MATH 4-shot Minerva, IFEval zero-shot, or local
verifiable JSONL files), scores with the `rewards` verifiers the RLVR stage trains on, and writes
`results.json`, `results.md` and `results.png` (plus per-example predictions) into `output_dir`, with a 95%
confidence interval for every score and a paired one for every change (`tulu_recipes.evaluation.intervals`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from tulu_recipes.config import RecipeError, parse_recipe, run_cli, save_recipe
from tulu_recipes.evaluation.inference import GenerationSettings
from tulu_recipes.evaluation.intervals import check_task_sizes, confidence_intervals, read_predictions
from tulu_recipes.evaluation.report import check_baseline, markdown_report, write_reports
from tulu_recipes.evaluation.runner import evaluate_models, predictions_path
from tulu_recipes.evaluation.tasks import LOCAL_MAX_NEW_TOKENS, build_task
from tulu_recipes.output_policy import refuse_finished_outputs, refuse_writing_into_inputs
from tulu_recipes.stages.outputs import finished_model_file
from tulu_recipes.stages.preflight import check_model_source


@dataclass
class EvalArguments:
    """What to evaluate, on what, and how to decode."""

    models: list[str] = field(default_factory=list, metadata={"help": "Model folders (or Hub ids) to evaluate."})
    model_names: list[str] | None = field(
        default=None, metadata={"help": "Labels for the table and chart, one per model (default: folder names)."}
    )
    tasks: list[str] = field(
        default_factory=lambda: ["gsm8k", "math", "ifeval"],
        metadata={
            "help": "gsm8k, math, ifeval, ifbench (files from `data_dir`, or `name=PATH`; `ifbench=hub` reads "
            "allenai/IFBench_test from the Hub), ifbench_offline[=ROUNDS] (IFBench prompts built offline, seeded by "
            "`subset_seed`), or a local .jsonl of verifiable rows (`messages`, `ground_truth`, `dataset`), "
            "optionally `name=PATH.jsonl`."
        },
    )
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder with gsm8k_test.jsonl, math_test.jsonl and ifeval_input_data.jsonl (and IFBench_test.jsonl "
            "for ifbench)."
        },
    )
    output_dir: str = field(default="outputs/eval", metadata={"help": "Where results and predictions go."})
    limit: int | None = field(default=None, metadata={"help": "Evaluate at most this many examples per task."})
    subset_seed: int | None = field(
        default=None, metadata={"help": "With `limit`: draw a seeded random subset instead of the first rows."}
    )
    gsm8k_shots: int = field(default=8, metadata={"help": "GSM8K chain-of-thought exemplars (paper: 8)."})
    math_shots: int = field(default=4, metadata={"help": "MATH Minerva exemplars (paper: 4)."})
    math_fewshot_as_multiturn: bool = field(
        default=True,
        metadata={"help": "MATH exemplars as separate chat turns (OLMES minerva_math::tulu); false: one user turn."},
    )
    backend: str = field(
        default="auto", metadata={"help": "auto (vLLM if installed and a GPU is present), vllm, or transformers."}
    )
    max_new_tokens: int | None = field(
        default=None,
        metadata={
            "help": "Generation limit per answer, for every task. null: each task's OLMES limit (gsm8k::tulu 512, "
            "minerva_math::tulu 1024, ifeval::tulu 2048; a local .jsonl task 1024)."
        },
    )
    batch_size: int = field(default=16, metadata={"help": "Prompts per transformers generate() call."})
    dtype: str = field(default="auto", metadata={"help": "Weights dtype: auto, bfloat16, float16 or float32."})
    chat_template: str | None = field(
        default=None, metadata={"help": "Override the models' chat template (bundled name or Jinja file)."}
    )
    tensor_parallel_size: int = field(default=1, metadata={"help": "vLLM tensor parallelism."})
    gpu_memory_utilization: float = field(default=0.9, metadata={"help": "vLLM GPU memory fraction."})
    vllm_subprocess: bool = field(
        default=True,
        metadata={
            "help": "Run each model's vLLM engine in its own process, whose exit frees the GPU for the next "
            "model; `false`: one engine at a time in this process, shut down explicitly after its model."
        },
    )
    title: str = field(default="Held-out accuracy", metadata={"help": "Chart title."})
    compare_to: str | None = field(
        default=None,
        metadata={
            "help": "Report each model's change from this one (a name in `model_names`); by default, from the model "
            "listed above it (a chain such as SFT -> DPO -> RLVR)."
        },
    )
    bootstrap_resamples: int = field(
        default=10_000,
        metadata={
            "help": "Bootstrap resamples of the prompts for the confidence intervals of every score and the "
            "paired ones of every change (results.md, results.json, chart error bars); 0: no intervals."
        },
    )
    bootstrap_seed: int = field(
        default=0, metadata={"help": "Seed of the bootstrap resamples (same seed, same intervals)."}
    )
    confidence_level: float = field(default=0.95, metadata={"help": "Coverage of the percentile intervals."})
    disable_tqdm: bool = field(default=False, metadata={"help": "Hide progress bars."})
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Replace the results of an earlier evaluation in `output_dir` (never a model folder)."},
    )


def model_labels(args: EvalArguments) -> list[tuple[str, str]]:
    if not args.models:
        raise RecipeError("the recipe names no model: set `models`")
    if args.model_names is None:
        labels = [Path(m).name or m for m in args.models]
    elif len(args.model_names) != len(args.models):
        raise RecipeError(f"{len(args.model_names)} model_names for {len(args.models)} models")
    else:
        labels = list(args.model_names)
    return list(zip(labels, args.models, strict=True))


def main(argv: list[str] | None = None) -> dict:
    (args,) = parse_recipe([EvalArguments], argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    models = model_labels(args)
    refuse_writing_into_inputs(args.output_dir, [path for _, path in models], "models")
    model_file = finished_model_file(args.output_dir)
    if model_file is not None:  # its recipe.yaml and card would be replaced by the evaluation's
        raise RecipeError(
            f"output_dir {args.output_dir} holds a model ({model_file.name}); evaluation results would replace its "
            "recipe.yaml. Choose another `output_dir`"
        )
    results_file = Path(args.output_dir) / "results.json"
    refuse_finished_outputs(
        args.output_dir, results_file if results_file.is_file() else None, args.overwrite_output_dir, "results"
    )
    try:
        check_baseline(args.compare_to, [label for label, _ in models])
    except ValueError as err:  # before any model generates, not after
        raise RecipeError(str(err)) from None
    try:
        tasks = [
            build_task(
                t,
                args.data_dir,
                args.limit,
                args.subset_seed,
                args.gsm8k_shots,
                args.math_shots,
                args.math_fewshot_as_multiturn,
            )
            for t in args.tasks
        ]
    except ValueError as err:
        raise RecipeError(str(err)) from None
    if args.bootstrap_resamples < 0:
        raise RecipeError(f"bootstrap_resamples must be 0 (no intervals) or more, got {args.bootstrap_resamples}")
    if args.bootstrap_resamples and not 0 < args.confidence_level < 1:
        raise RecipeError(f"confidence_level must be between 0 and 1, got {args.confidence_level}")
    folders = [predictions_path(args.output_dir, label, "t").parent for label, _ in models]
    if len(set(folders)) != len(folders):  # the intervals are computed from these files
        raise RecipeError(f"model_names {[label for label, _ in models]} share a predictions folder name; rename them")
    if args.bootstrap_resamples:
        try:
            check_task_sizes({t.name: len(t.examples) for t in tasks})
        except ValueError as err:
            raise RecipeError(f"{err} (bootstrap_resamples: 0 evaluates it without intervals)") from None
    for _, path in models:  # a missing folder or an offline Hub id: one line now, not after other models ran
        check_model_source(path, "models")
    save_recipe(args.output_dir, args)
    settings = GenerationSettings(
        backend=args.backend,
        max_new_tokens=LOCAL_MAX_NEW_TOKENS if args.max_new_tokens is None else args.max_new_tokens,
        batch_size=args.batch_size,
        dtype=args.dtype,
        chat_template=args.chat_template,
        tensor_parallel_size=args.tensor_parallel_size,
        gpu_memory_utilization=args.gpu_memory_utilization,
        show_progress=not args.disable_tqdm,
        vllm_subprocess=args.vllm_subprocess,
    )
    results = evaluate_models(models, tasks, settings, args.output_dir, own_limits=args.max_new_tokens is None)
    results["compare_to"] = args.compare_to
    if args.bootstrap_resamples:
        rows = {
            label: {t.name: read_predictions(predictions_path(args.output_dir, label, t.name))[t.name] for t in tasks}
            for label, _ in models
        }
        results["confidence_intervals"] = confidence_intervals(
            results, rows, args.compare_to, args.bootstrap_resamples, args.bootstrap_seed, args.confidence_level
        )
    paths = write_reports(results, args.output_dir, args.title, args.compare_to)
    print(markdown_report(results, args.compare_to), end="")
    print(f"Wrote {paths['json']}, {paths['markdown']} and {paths['chart']}")
    return results


if __name__ == "__main__":
    run_cli(main)
