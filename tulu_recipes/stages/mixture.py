"""A stage's data: the recipe's mixture with the paper's filters, its decontamination check, its reports, and the
train/eval datasets handed to the trainer."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from tulu_recipes.config import RecipeError
from tulu_recipes.data import FilterConfig, MixtureResult, load_mixture
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.secrets import scrub_text, scrub_values

logger = logging.getLogger("tulu_recipes")
DATA_OUTPUTS = ("mixture.json", "mixture.md", "decontamination.json", "decontamination.md")


def load_stage_data(
    script_args: TuluScriptArguments, seed: int, kind: str, output_dir: str | None, report_dir: str | None = None
) -> MixtureResult:
    """Mix the recipe's sources for a stage and apply the paper's filters.

    With `output_dir`, save the per-source table there. A decontamination report is kept on the result
    (`decontamination`); when it stops the run it is saved in `output_dir`, else `report_dir`, if that is a new or
    empty folder, else a fresh temporary one (a finished run's files are never touched).
    """
    sources = script_args.mixture_sources()
    if not sources:
        raise RecipeError("the recipe names no data: set `dataset_mixer` (or `dataset_name`)")
    filters = FilterConfig(
        drop_empty_turns=script_args.drop_empty_turns,
        drop_identity=script_args.drop_identity_mentions,
        **({"identity_keywords": list(script_args.identity_keywords)} if script_args.identity_keywords else {}),
    )
    result = load_mixture(sources, kind=kind, seed=seed, filters=filters, test_size=script_args.test_size)
    logger.info("Data mixture:\n%s", result.to_markdown())
    result.decontamination = None  # type: ignore[attr-defined]
    if script_args.decontaminate_against:
        result.decontamination = check_contamination(result, script_args, output_dir or report_dir)  # type: ignore[attr-defined]
    if output_dir:
        write_data_outputs(output_dir, result)
    return result


def write_data_outputs(output_dir: str | Path, result: MixtureResult) -> list[Path]:
    """Save the mixture table (and the decontamination report, if any) next to the outputs; return the paths."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mixture.json").write_text(json.dumps(scrub_values(result.to_dict()), indent=2), encoding="utf-8")
    (out / "mixture.md").write_text(scrub_text(result.to_markdown()), encoding="utf-8")
    report = getattr(result, "decontamination", None)
    if report is not None:
        report.write(out)
    return [out / name for name in DATA_OUTPUTS if (out / name).is_file()]


def _report_dir(output_dir: str | None) -> str | None:
    """Where a refusing decontamination report may go: `output_dir` if new or empty, else a temporary folder."""
    if not output_dir:
        return None
    out = Path(output_dir)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return output_dir
    return tempfile.mkdtemp(prefix="tulu-decontamination-")


def mixture_seed(training_args: Any) -> int:
    """The seed that mixes the data: `data_seed` when the recipe sets it (0 included), else `seed`."""
    return training_args.seed if training_args.data_seed is None else training_args.data_seed


def trainer_datasets(data: MixtureResult, columns: list[str]) -> dict[str, Any]:
    """`train_dataset`/`eval_dataset` keyword arguments holding only the columns a trainer reads."""
    return {
        "train_dataset": data.train.select_columns(columns),
        "eval_dataset": data.test.select_columns(columns) if data.test is not None else None,
    }


def check_contamination(result: MixtureResult, script_args: TuluScriptArguments, output_dir: str | None) -> Any:
    """Stop before training when a source overlaps a declared evaluation set (paper §3.2: 8-grams, 50%, 2%).

    Returns the report; when it stops the run, saves it first (see `load_stage_data` for where).
    """
    from tulu_recipes.data.decontamination import build_index, load_eval_sets, scan_dataset

    index = build_index(load_eval_sets(list(script_args.decontaminate_against)))
    report = scan_dataset(result.train, index, source_column="source")
    logger.info("Decontamination:\n%s", report.to_markdown())
    contaminated = report.contaminated_sources
    if contaminated and not script_args.allow_contaminated:
        where = _report_dir(output_dir)
        if where:
            report.write(where)
        raise RecipeError(
            "contaminated training sources: "
            + ", ".join(contaminated)
            + f" (report: {where or 'not saved'}/decontamination.md; set `allow_contaminated: true` to train "
            "anyway, or drop them with `tulu-recipes decontaminate`)"
        )
    return report
