"""Turning per-row overlapping pairs into the per-source report (counts, contamination flags, examples)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tulu_recipes.data.decontamination.index import EvalIndex
from tulu_recipes.data.decontamination.match import shared_spans
from tulu_recipes.data.decontamination.report import Cell, Example, Report
from tulu_recipes.data.decontamination.scan import RowSource


def label_array(labels: Any, n_rows: int) -> np.ndarray:
    """Per-row source labels as an object array (a single string label is repeated)."""
    if isinstance(labels, str):
        return np.full(n_rows, labels, dtype=object)
    return np.asarray([str(x) for x in labels], dtype=object)


def label_groups(labels: Any, n_rows: int) -> dict[str, np.ndarray]:
    """Row indices per label, labels in order of first appearance."""
    if isinstance(labels, str):
        return {labels: np.arange(n_rows, dtype=np.int64)}
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(str(label), []).append(i)
    return {k: np.array(v, dtype=np.int64) for k, v in groups.items()}


def build_report(
    index: EvalIndex,
    parts: Sequence[RowSource],
    labels: Sequence[Any],
    pairs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    overlap_threshold: float,
    contamination_threshold: float,
    max_examples: int,
) -> Report:
    """Aggregate the overlapping pairs of every part into a ``Report``.

    ``labels[p]`` names the source of part p's rows: one string for the whole part, or one label per row.
    Row indices stay those of the part. Examples are the first ``max_examples`` pairs of a cell in row order.
    """
    source_sizes: dict[str, int] = {}
    cells: list[Cell] = []
    flagged: dict[str, list[int]] = {}
    for part, label_spec, (rows, inst, covered) in zip(parts, labels, pairs, strict=True):
        groups = label_groups(label_spec, len(part))
        row_label = None if isinstance(label_spec, str) else label_array(label_spec, len(part))
        for label, members in groups.items():
            if label in source_sizes:
                raise ValueError(f"training source {label!r} given twice")
            source_sizes[label] = int(members.size)
            mine = np.ones(rows.size, dtype=bool) if row_label is None else row_label[rows] == label
            s_rows, s_inst, s_cov = rows[mine], inst[mine], covered[mine]
            flagged[label] = np.unique(s_rows).tolist()
            for k, name in enumerate(index.set_names):
                lo, hi = int(index.set_bounds[k]), int(index.set_bounds[k + 1])
                in_set = (s_inst >= lo) & (s_inst < hi)
                overlapping = (np.unique(s_inst[in_set]) - lo).tolist()
                size = hi - lo
                cell = Cell(
                    source=label,
                    eval_set=name,
                    train_size=int(members.size),
                    eval_size=size,
                    overlapping=overlapping,
                    contaminated=bool(size) and len(overlapping) / size > contamination_threshold,
                )
                shown = zip(s_rows[in_set], s_inst[in_set], s_cov[in_set], strict=True)
                for r, i, c in list(shown)[:max_examples]:
                    segments = part.prompts(int(r), int(r) + 1)[0]
                    cell.examples.append(
                        Example(
                            train_index=int(r),
                            eval_index=int(i) - lo,
                            coverage=float(c / index.inst_len[i]),
                            eval_text=index.texts[int(i)],
                            shared=shared_spans(index, segments, int(i)),
                        )
                    )
                cells.append(cell)
    return Report(
        ngram=index.ngram,
        overlap_threshold=overlap_threshold,
        contamination_threshold=contamination_threshold,
        source_sizes=source_sizes,
        eval_sizes={name: index.set_size(name) for name in index.set_names},
        cells=cells,
        flagged_rows=flagged,
    )
