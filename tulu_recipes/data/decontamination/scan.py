"""Parallel scanning of training rows against an ``EvalIndex``.

Rows are cut into batches of ``batch_size`` consecutive rows; each batch is matched in a worker process (a
``multiprocessing`` pool; with the ``fork`` start method the index and the training data are inherited, not
pickled) and only the overlapping pairs travel back. Worker memory is the evaluation index plus one batch,
whatever the size of the training data. A ``tqdm`` bar counts rows.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from tulu_recipes.data.decontamination.index import EvalIndex
from tulu_recipes.data.decontamination.match import match_rows
from tulu_recipes.data.decontamination.text import prompt_segments, resolve_text_field, value_segments


class RowSource:
    """Random access to the prompt segments of a list of rows/values or of a ``datasets.Dataset``."""

    def __init__(self, data: Any, text_field: str | None = None):
        self.text_field = text_field
        self.is_dataset = hasattr(data, "column_names") and hasattr(data, "select_columns")
        if self.is_dataset:
            self.field = resolve_text_field(data.column_names, text_field)
            self.data = data.select_columns([self.field])
        else:
            self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def prompts(self, start: int, end: int) -> list[list[str]]:
        if self.is_dataset:
            return [value_segments(v) for v in self.data[start:end][self.field]]
        return [prompt_segments(x, self.text_field) for x in self.data[start:end]]


Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]
_STATE: tuple[EvalIndex, Sequence[RowSource], float] | None = None


def _init(state: tuple[EvalIndex, Sequence[RowSource], float] | None) -> None:
    global _STATE
    _STATE = state


def _work(unit: tuple[int, int, int]) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    part, start, end = unit
    assert _STATE is not None
    index, parts, threshold = _STATE
    rows, inst, covered = match_rows(index, parts[part].prompts(start, end), threshold)
    return part, end - start, rows + start, inst, covered


def scan_parts(
    index: EvalIndex,
    parts: Sequence[RowSource],
    overlap_threshold: float = 0.5,
    num_proc: int = 1,
    batch_size: int = 4096,
    progress: bool = True,
) -> list[Pairs]:
    """Overlapping ``(row, global eval instance, covered)`` arrays for every part, rows sorted."""
    units = [
        (p, s, min(s + batch_size, len(src))) for p, src in enumerate(parts) for s in range(0, len(src), batch_size)
    ]
    found: list[list[Pairs]] = [[] for _ in parts]
    state = (index, parts, overlap_threshold)
    bar = tqdm(total=sum(len(p) for p in parts), unit="rows", desc="decontaminate", disable=not progress)
    if num_proc <= 1 or len(units) <= 1:
        _init(state)
        results = map(_work, units)
        pool = None
    else:
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else None)
        pool = ctx.Pool(num_proc, initializer=_init, initargs=(state,))
        results = pool.imap_unordered(_work, units)
    try:
        for part, n_rows, rows, inst, covered in results:
            found[part].append((rows, inst, covered))
            bar.update(n_rows)
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
        else:
            _init(None)
    out: list[Pairs] = []
    for chunks in found:
        if not chunks:
            empty = np.zeros(0, dtype=np.int64)
            out.append((empty, empty, empty))
            continue
        rows, inst, covered = (np.concatenate(a) for a in zip(*chunks, strict=True))
        order = np.lexsort((inst, rows))
        out.append((rows[order], inst[order], covered[order]))
    return out
