"""Short, located errors for data files and Hub sources that `datasets` cannot load.

`datasets` reports a corrupt JSON Lines row as a 40-line `DatasetGenerationError` naming neither the line nor
always the file, and a Hub dataset while offline as `Couldn't reach ...`. These helpers turn both into one
`DataError` line: the file and line number of the first row that is not JSON, or that the Hub is off and how
to use a local file instead.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tulu_recipes.data.errors import DataError

_TRUE = {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    """Whether the Hub is switched off (`HF_HUB_OFFLINE`, `HF_DATASETS_OFFLINE` or `TRANSFORMERS_OFFLINE`)."""
    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(n, "").strip().lower() in _TRUE for n in names)


def first_bad_json_line(path: Path) -> tuple[int, str] | None:
    """`(line number, reason)` of the first non-empty line of a JSON Lines file that is not a JSON object."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                return number, f"not valid JSON ({err.msg} at column {err.colno})"
            if not isinstance(row, dict):
                return number, f"a JSON {type(row).__name__}, not an object"
    return None


def unreadable_file_error(source: str, path: Path, err: BaseException) -> DataError:
    """The one-line error for a local data file `datasets` failed to load."""
    if path.suffix.lower() in (".jsonl", ".json"):
        bad = first_bad_json_line(path) if path.suffix.lower() == ".jsonl" or _looks_like_lines(path) else None
        if bad is not None:
            return DataError(f"source {source!r}: {path} line {bad[0]} is {bad[1]}")
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    cause = err.__cause__ or err.__context__
    if cause is not None and str(cause).strip():
        reason = f"{reason}: {str(cause).strip().splitlines()[0]}"
    return DataError(f"source {source!r}: cannot read {path}: {reason}")


def _looks_like_lines(path: Path) -> bool:
    """A `.json` file holding one object per line (not one JSON array)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read(4096).lstrip().startswith("{")


def hub_error(source: str, err: BaseException) -> DataError:
    """The one-line error for a Hub dataset that could not be loaded (offline, unreachable, or unknown)."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if hub_offline():
        return DataError(
            f"source {source!r} is a Hub dataset, but the Hub is offline (HF_HUB_OFFLINE=1) and it is not in the "
            "local cache; download it while online, or point `path` at a local .jsonl/.parquet file or folder"
        )
    return DataError(f"source {source!r}: cannot load it from the Hub ({first}); or use a local file path")


@contextmanager
def quiet_builder_errors() -> Iterator[None]:
    """Mute the file builders' own error log line (`Failed to load JSON from file ...`): the DataError says it."""
    logger = logging.getLogger("datasets.packaged_modules")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
