"""Build a training mixture from several sources (open-instruct HEAD semantics, not TRL's).

For each source, in order: load -> normalize to the stage's format (``normalize.py``) -> apply the paper's
filters unless the spec says ``filters: false`` (``filters.py``) -> take the asked amount of the rows that
survived the filters:

- ``fraction`` f is a fraction **of that source**: ``target = floor(f * n + 0.5)`` rows (round half up) of the
  ``n`` filtered rows; ``count`` c asks for ``target = c`` rows; neither means ``fraction 1.0``.
- ``target <= n``: a seeded random subset of ``target`` rows. ``target > n``: every row ``target // n`` times
  plus a seeded random ``target % n`` rows (so 2.5 = all rows twice plus a random half).
- The per-source generator is seeded with ``(seed, 1, source index)``: stable across runs and independent
  of the other sources. The concatenation is then shuffled with ``(seed, 2)`` and the optional train/test
  split drawn with ``(seed, 3)`` (numpy ``default_rng``).

Every row carries a ``source`` column (the spec's ``label``, default its ``path``). The returned table gives,
per source: rows available, rows after filters, rows removed by each filter, the asked amount and rows taken.
A mixture that ends with zero rows raises ``DataError`` saying why, per source.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from tulu_recipes.data.errors import DataError
from tulu_recipes.data.filters import FILTER_NAMES, FilterConfig, apply_filters
from tulu_recipes.data.normalize import KINDS, normalize
from tulu_recipes.data.sources import SourceSpec, load_source, parse_sources

logger = logging.getLogger(__name__)

_SOURCE_STREAM, _SHUFFLE_STREAM, _SPLIT_STREAM = 1, 2, 3


def target_rows(n: int, fraction: float | None, count: int | None) -> int:
    """Rows asked of a source with ``n`` (filtered) rows: ``count``, or ``floor(fraction * n + 0.5)``."""
    if count is not None:
        return count
    return int(math.floor((1.0 if fraction is None else fraction) * n + 0.5))


def sample_indices(n: int, target: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``target`` of ``n`` rows: whole repeats of ``range(n)`` plus a seeded random remainder."""
    if n == 0 or target == 0:
        return np.zeros(0, dtype=np.int64)
    repeats, extra = divmod(target, n)
    parts = [np.arange(n, dtype=np.int64)] * repeats
    parts.append(rng.permutation(n)[:extra].astype(np.int64))
    return np.concatenate(parts)


def _test_rows(test_size: float | int, total: int) -> int:
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)):
        raise DataError(f"test_size must be a fraction in (0, 1) or a row count, got {test_size!r}")
    if isinstance(test_size, float):
        if not 0 < test_size < 1:
            raise DataError(f"test_size as a fraction must lie in (0, 1), got {test_size}")
        rows = int(math.floor(test_size * total + 0.5))
    else:
        rows = test_size
    if not 0 < rows < total:
        raise DataError(f"test_size={test_size!r} gives {rows} test rows out of {total}; need 1..{total - 1}")
    return rows


@dataclass
class MixtureResult:
    """The mixed data and how it was made. ``table`` has one dict per source, in spec order."""

    train: datasets.Dataset
    test: datasets.Dataset | None
    table: list[dict[str, Any]]
    kind: str
    seed: int
    test_size: float | int | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary, meant to be saved next to the training outputs."""
        return {
            "kind": self.kind,
            "seed": self.seed,
            "test_size": self.test_size,
            "train_rows": len(self.train),
            "test_rows": len(self.test) if self.test is not None else 0,
            "filters": self.filters,
            "sources": [dict(row) for row in self.table],
        }

    def to_markdown(self) -> str:
        """The per-source table as a markdown table, with a total row and the train/test sizes."""
        header = [
            "source",
            "available",
            "after filters",
            *(f"removed: {f}" for f in FILTER_NAMES),
            "asked",
            "taken",
        ]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.table:
            cells = [
                row["source"],
                row["available"],
                row["after_filters"],
                *(row[f"removed_{f}"] for f in FILTER_NAMES),
                row["asked"],
                row["taken"],
            ]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        totals = [
            sum(row[key] for row in self.table)
            for key in ("available", "after_filters", *(f"removed_{f}" for f in FILTER_NAMES))
        ]
        test_rows = len(self.test) if self.test is not None else 0
        taken = sum(row["taken"] for row in self.table)
        lines.append("| **total** | " + " | ".join(str(t) for t in totals) + f" | | {taken} |")
        lines.append("")
        lines.append(f"kind={self.kind}, seed={self.seed}: {len(self.train)} train rows, {test_rows} test rows")
        return "\n".join(lines)


def _load_one(
    spec: SourceSpec,
    index: int,
    kind: str,
    seed: int,
    base_dir: str | Path | None,
    filters: FilterConfig,
    num_proc: int | None,
    cache_dir: str | None,
) -> tuple[datasets.Dataset, dict[str, Any]]:
    raw = load_source(spec, base_dir=base_dir, cache_dir=cache_dir)
    rows = normalize(raw, kind, spec.source_label, dataset_name=spec.dataset, num_proc=num_proc)
    removed = dict.fromkeys(FILTER_NAMES, 0)
    if spec.filters:
        rows, removed = apply_filters(rows, kind, filters, num_proc=num_proc)
    target = target_rows(len(rows), spec.fraction, spec.count)
    rng = np.random.default_rng([seed, _SOURCE_STREAM, index])
    picked = rows.select(sample_indices(len(rows), target, rng))
    if target > 0 and len(rows) == 0:
        logger.warning("source %r: %s asked but no rows are left after filters", spec.source_label, spec.amount)
    row = {
        "source": spec.source_label,
        "path": spec.path,
        "available": len(raw),
        "after_filters": len(rows),
        **{f"removed_{f}": removed[f] for f in FILTER_NAMES},
        "filters": spec.filters,
        "fraction": spec.fraction if spec.count is None else None,
        "count": spec.count,
        "asked": spec.amount,
        "taken": len(picked),
    }
    return picked, row


def _empty_reason(table: list[dict[str, Any]]) -> str:
    parts = []
    for row in table:
        if row["available"] == 0:
            why = "the source has no rows"
        elif row["after_filters"] == 0:
            why = "filters removed all {} rows ({})".format(
                row["available"], ", ".join(f"{f}: {row[f'removed_{f}']}" for f in FILTER_NAMES)
            )
        else:
            why = f"{row['asked']} of {row['after_filters']} rows gives 0 rows"
        parts.append(f"{row['source']!r}: {why}")
    return "; ".join(parts)


def load_mixture(
    sources: list[Mapping[str, Any] | SourceSpec] | Mapping[str, float | int],
    *,
    kind: str,
    seed: int = 42,
    base_dir: str | Path | None = None,
    filters: FilterConfig | None = None,
    test_size: float | int | None = None,
    num_proc: int | None = None,
    cache_dir: str | None = None,
) -> MixtureResult:
    """Load, normalize, filter, sample and shuffle ``sources`` into one ``kind`` dataset (see module doc).

    ``sources`` is a list of source dicts (``sources.py``) or the dict form ``{path: amount}``.
    ``base_dir`` is where relative local paths are looked up first (the recipe's folder).
    ``filters`` defaults to ``FilterConfig()`` (the paper's filters). ``test_size`` (a fraction in (0, 1)
    or a row count) splits a seeded test set off the final mixture. ``cache_dir`` is passed to
    ``datasets.load_dataset``.
    """
    if kind not in KINDS:
        raise DataError(f"unknown data kind {kind!r}; expected one of {', '.join(KINDS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError(f"seed must be an integer >= 0, got {seed!r}")
    specs = parse_sources(sources, kind=kind)
    filters = filters if filters is not None else FilterConfig()
    parts, table = [], []
    for index, spec in enumerate(specs):
        part, row = _load_one(spec, index, kind, seed, base_dir, filters, num_proc, cache_dir)
        parts.append(part)
        table.append(row)
        logger.info("mixture source %r: %s", spec.source_label, json.dumps(row))
    total = sum(len(p) for p in parts)
    if total == 0:
        raise DataError(f"the {kind} mixture is empty: {_empty_reason(table)}")
    mixed = datasets.concatenate_datasets(parts)
    mixed = mixed.select(np.random.default_rng([seed, _SHUFFLE_STREAM]).permutation(total))
    test = None
    if test_size is not None:
        n_test = _test_rows(test_size, total)
        order = np.random.default_rng([seed, _SPLIT_STREAM]).permutation(total)
        test = mixed.select(order[:n_test])
        mixed = mixed.select(np.sort(order[n_test:]))
    filter_info = {
        "drop_empty_turns": filters.drop_empty_turns,
        "drop_identity": filters.drop_identity,
        "identity_keywords": list(filters.identity_keywords),
    }
    return MixtureResult(
        train=mixed, test=test, table=table, kind=kind, seed=seed, test_size=test_size, filters=filter_info
    )
