"""One output policy for every command that writes a folder: training stages, `soup` and `evaluate`.

- Never write into an input: an `output_dir` that is one of the command's input folders is refused, whatever
  `overwrite_output_dir` says (a soup saved over an ingredient, evaluation results over a model's `recipe.yaml`).
- A folder holding finished outputs is refused unless `overwrite_output_dir: true`.

Both checks run before anything loads or is written, so a refused command leaves every folder as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tulu_recipes.config import RecipeError


def refuse_writing_into_inputs(output_dir: str | Path, inputs: Iterable[str | Path], key: str) -> None:
    """Stop when `output_dir` is the same folder as one of `inputs` (the recipe's `key`)."""
    out = Path(output_dir).resolve()
    for path in inputs:
        if Path(path).exists() and Path(path).resolve() == out:
            raise RecipeError(
                f"output_dir {output_dir} is one of the {key} ({path}); writing there would replace its files. "
                "Choose another `output_dir`"
            )


def refuse_finished_outputs(output_dir: str | Path, finished: Path | None, overwrite: bool, what: str) -> None:
    """Stop when `finished` (a file of a previous run in `output_dir`) exists and the recipe does not overwrite."""
    if finished is None or overwrite:
        return
    raise RecipeError(
        f"output_dir {output_dir} holds {what} ({finished.name}); not overwriting it. Choose another `output_dir`, "
        "or set `overwrite_output_dir: true` to replace it"
    )
