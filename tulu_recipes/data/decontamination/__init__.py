"""8-gram decontamination of training prompts against evaluation sets (Tülu 3 paper §3.2), embedded in python.

Rules (defaults are the paper's):

- prompts only: user turns of chat rows, or a chosen text field (``decontamination.text``);
- an evaluation instance overlaps a training instance when MORE than ``overlap_threshold`` (0.5) of its tokens
  are covered by n-grams (n = 8) it shares with that ONE training instance (``decontamination.match``);
- a training source is contaminated with an evaluation set when MORE than ``contamination_threshold`` (0.02)
  of the set's instances overlap some instance of the source (``decontamination.report``).

Typical use::

    index = build_index(load_eval_sets(["gsm8k", "math", "ifeval"]))
    report = scan(index, {"numina": numina_ds, "wildchat": wildchat_ds}, num_proc=8)
    report.write("out/")
    clean, report = decontaminate(mixture_ds, index, mode="drop-sources")  # rows grouped by `source` column

Modes: ``report`` (change nothing), ``drop-instances`` (drop every training row that overlaps any evaluation
instance), ``drop-sources`` (drop every row of a contaminated source; the paper's choice).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from tulu_recipes.data.decontamination.aggregate import build_report, label_array
from tulu_recipes.data.decontamination.evalsets import (
    DEFAULT_EVAL_SETS,
    DEFAULT_EVAL_SPECS,
    EvalSpec,
    load_eval_set,
    load_eval_sets,
    parse_eval_spec,
)
from tulu_recipes.data.decontamination.index import EvalIndex, build_index
from tulu_recipes.data.decontamination.match import match_rows
from tulu_recipes.data.decontamination.report import Cell, Example, Report
from tulu_recipes.data.decontamination.scan import Pairs, RowSource, scan_parts
from tulu_recipes.data.decontamination.text import prompt_segments, prompt_text, tokenize

__all__ = [
    "DEFAULT_EVAL_SETS",
    "DEFAULT_EVAL_SPECS",
    "MODES",
    "Cell",
    "EvalIndex",
    "EvalSpec",
    "Example",
    "Report",
    "build_index",
    "decontaminate",
    "decontaminate_sources",
    "load_eval_set",
    "load_eval_sets",
    "match_rows",
    "parse_eval_spec",
    "prompt_segments",
    "prompt_text",
    "scan",
    "scan_dataset",
    "tokenize",
]

Mode = Literal["report", "drop-instances", "drop-sources"]
MODES: tuple[str, ...] = ("report", "drop-instances", "drop-sources")


def _run(
    index: EvalIndex,
    parts: list[RowSource],
    labels: list[Any],
    overlap_threshold: float,
    contamination_threshold: float,
    num_proc: int,
    batch_size: int,
    max_examples: int,
    progress: bool,
    pairs: list[Pairs] | None = None,
) -> Report:
    if pairs is None:
        pairs = scan_parts(index, parts, overlap_threshold, num_proc, batch_size, progress)
    return build_report(index, parts, labels, pairs, overlap_threshold, contamination_threshold, max_examples)


def scan(
    index: EvalIndex,
    train_by_source: Mapping[str, Any],
    *,
    text_field: str | None = None,
    overlap_threshold: float = 0.5,
    contamination_threshold: float = 0.02,
    num_proc: int = 1,
    batch_size: int = 4096,
    max_examples: int = 3,
    progress: bool = False,
    pairs: list[Pairs] | None = None,
) -> Report:
    """Report on ``{source name: rows}``; rows are a ``datasets.Dataset`` or a list of rows/strings/messages.

    Row indices in the report are positions inside each source's own rows. ``pairs``: the overlapping pairs of
    every source, found elsewhere (a sharded scan, ``tulu_recipes.pipelines.decontaminate``); skips the scan.
    """
    names = list(train_by_source)
    parts = [RowSource(train_by_source[name], text_field) for name in names]
    return _run(
        index,
        parts,
        names,
        overlap_threshold,
        contamination_threshold,
        num_proc,
        batch_size,
        max_examples,
        progress,
        pairs,
    )


def _dataset_labels(dataset: Any, source_column: str | None, source_name: str) -> Any:
    """The per-row source labels of a dataset/list of rows, or ``source_name`` when it has no such column."""
    if source_column is None:
        return source_name
    columns = getattr(dataset, "column_names", None)
    if columns is not None:
        return list(dataset[source_column]) if source_column in columns else source_name
    if len(dataset) and isinstance(dataset[0], Mapping) and source_column in dataset[0]:
        return [row[source_column] for row in dataset]
    return source_name


def scan_dataset(
    dataset: Any,
    index: EvalIndex,
    *,
    source_column: str | None = "source",
    source_name: str = "train",
    text_field: str | None = None,
    overlap_threshold: float = 0.5,
    contamination_threshold: float = 0.02,
    num_proc: int = 1,
    batch_size: int = 4096,
    max_examples: int = 3,
    progress: bool = False,
    pairs: list[Pairs] | None = None,
) -> Report:
    """Report on one dataset (or list of rows) whose rows are grouped into sources by ``source_column``.

    Without that column the whole dataset is the source ``source_name``. Row indices are dataset row indices.
    ``pairs``: as in ``scan``.
    """
    labels = _dataset_labels(dataset, source_column, source_name)
    return _run(
        index,
        [RowSource(dataset, text_field)],
        [labels],
        overlap_threshold,
        contamination_threshold,
        num_proc,
        batch_size,
        max_examples,
        progress,
        pairs,
    )


def _drop_rows(report: Report, mode: str) -> dict[str, set[int] | None]:
    """Per source: the row indices to drop (``None`` = the whole source)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    if mode == "report":
        return {}
    if mode == "drop-sources":
        return {s: None for s in report.contaminated_sources}
    return {s: set(rows) for s, rows in report.flagged_rows.items() if rows}


def _select(data: Any, keep: np.ndarray) -> Any:
    if hasattr(data, "select") and hasattr(data, "column_names"):
        return data.select(keep.tolist())
    return [data[int(i)] for i in keep]


def decontaminate(
    dataset: Any, index: EvalIndex, mode: Mode = "drop-sources", **scan_kwargs: Any
) -> tuple[Any, Report]:
    """Scan one dataset (sources from its ``source`` column, see ``scan_dataset``) and apply ``mode``.

    Returns the kept rows (a ``Dataset`` stays a ``Dataset``, a list stays a list) and the report.
    """
    report = scan_dataset(dataset, index, **scan_kwargs)
    drops = _drop_rows(report, mode)
    if not drops:
        return dataset, report
    labels = _dataset_labels(
        dataset, scan_kwargs.get("source_column", "source"), scan_kwargs.get("source_name", "train")
    )
    n = len(dataset)
    label_arr = label_array(labels, n)
    keep = np.ones(n, dtype=bool)
    for source, rows in drops.items():
        if rows is None:
            keep &= label_arr != source
        elif rows:
            keep[np.fromiter(rows, dtype=np.int64)] = False
    return _select(dataset, np.flatnonzero(keep)), report


def decontaminate_sources(
    train_by_source: Mapping[str, Any], index: EvalIndex, mode: Mode = "drop-sources", **scan_kwargs: Any
) -> tuple[dict[str, Any], Report]:
    """``scan`` several sources and apply ``mode``: dropped sources are left out of the returned dict."""
    report = scan(index, train_by_source, **scan_kwargs)
    drops = _drop_rows(report, mode)
    out: dict[str, Any] = {}
    for name, data in train_by_source.items():
        if name not in drops:
            out[name] = data
        elif drops[name] is not None:
            bad = drops[name]
            out[name] = _select(data, np.array([i for i in range(len(data)) if i not in bad], dtype=np.int64))
    return out, report
