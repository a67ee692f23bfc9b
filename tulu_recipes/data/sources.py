"""Source specs of a data mixture and loading one source into a ``datasets.Dataset``.

A source is a dict from a recipe YAML::

    {path: allenai/tulu-3-sft-mixture, fraction: 0.5}      # a seeded random half of the source
    {path: data/extra.jsonl, count: 1000, label: extra}     # 1000 rows (upsampled if the source is smaller)

Exactly one of ``fraction`` and ``count`` may be given; neither means ``fraction: 1.0``. The other keys are
``name`` (dataset config), ``split`` (default ``"train"``), ``data_files``, ``revision``, ``label`` (the
value of the ``source`` column, default: ``path``), ``dataset`` (rlvr only: fills a missing ``dataset``
column) and ``filters`` (default true: apply the paper's filters to this source). Unknown keys are rejected.

The open-instruct dict form ``{path: amount}`` is accepted too: a float amount is a fraction, an int a count.

Path resolution: an absolute path is used as is; a relative one is looked up under ``base_dir`` (the folder of
the recipe YAML) first, then under the current directory. A path that exists nowhere and looks like a Hub id
(``owner/name``) is loaded from the Hub; anything else is a ``DataError``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from tulu_recipes.data.errors import DataError
from tulu_recipes.data.file_checks import hub_error, quiet_builder_errors, unreadable_file_error

SOURCE_KEYS = (
    "path",
    "fraction",
    "count",
    "name",
    "split",
    "data_files",
    "revision",
    "label",
    "dataset",
    "filters",
)

_FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv", ".arrow": "arrow"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


@dataclass(frozen=True)
class SourceSpec:
    """One validated source of a mixture. ``fraction`` and ``count`` are never both set."""

    path: str
    fraction: float | None = None
    count: int | None = None
    name: str | None = None
    split: str = "train"
    data_files: str | list[str] | dict[str, Any] | None = None
    revision: str | None = None
    label: str | None = None
    dataset: str | None = None
    filters: bool = True

    @property
    def source_label(self) -> str:
        """The value written in the ``source`` column: ``label`` if given, else ``path``."""
        return self.label if self.label is not None else self.path

    @property
    def amount(self) -> str:
        """The asked amount, as written in the table (``fraction 0.5`` or ``count 1000``)."""
        if self.count is not None:
            return f"count {self.count}"
        return f"fraction {self.fraction if self.fraction is not None else 1.0:g}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_type(where: str, key: str, value: Any, types: tuple[type, ...], what: str) -> None:
    if value is not None and not isinstance(value, types):
        raise DataError(f"{where}: `{key}` must be {what}, got {type(value).__name__} {value!r}")


def parse_source(raw: Mapping[str, Any] | SourceSpec, index: int = 0, kind: str | None = None) -> SourceSpec:
    """Validate one source dict strictly and return a ``SourceSpec``.

    Unknown keys raise a ``DataError`` naming the key and the closest valid key. ``dataset`` is only accepted
    for ``kind="rlvr"`` (it fills the rlvr ``dataset`` column).
    """
    if isinstance(raw, SourceSpec):
        spec = raw
    else:
        where = f"source #{index}"
        if not isinstance(raw, Mapping):
            raise DataError(f"{where}: expected a dict with at least `path`, got {type(raw).__name__} {raw!r}")
        for key in raw:
            if key not in SOURCE_KEYS:
                close = difflib.get_close_matches(str(key), SOURCE_KEYS, n=1)
                hint = f"; did you mean `{close[0]}`?" if close else ""
                raise DataError(f"{where}: unknown key `{key}`{hint} (valid keys: {', '.join(SOURCE_KEYS)})")
        if "path" not in raw or not isinstance(raw["path"], str) or not raw["path"].strip():
            raise DataError(f"{where}: `path` (a Hub id or a local file/folder) is required, got {raw!r}")
        where = f"source #{index} ({raw['path']})"
        fraction, count = raw.get("fraction"), raw.get("count")
        if fraction is not None and count is not None:
            raise DataError(f"{where}: give either `fraction` or `count`, not both")
        if fraction is not None and (not _is_number(fraction) or fraction < 0):
            raise DataError(f"{where}: `fraction` must be a number >= 0, got {fraction!r}")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise DataError(f"{where}: `count` must be an integer >= 0, got {count!r}")
        for key in ("name", "revision", "label", "dataset"):
            _check_type(where, key, raw.get(key), (str,), "a string")
        _check_type(where, "split", raw.get("split"), (str,), "a string")
        _check_type(where, "data_files", raw.get("data_files"), (str, list, dict), "a string, list or dict")
        _check_type(where, "filters", raw.get("filters"), (bool,), "true or false")
        spec = SourceSpec(
            path=raw["path"],
            fraction=float(fraction) if fraction is not None else None,
            count=count,
            name=raw.get("name"),
            split=raw.get("split") or "train",
            data_files=raw.get("data_files"),
            revision=raw.get("revision"),
            label=raw.get("label"),
            dataset=raw.get("dataset"),
            filters=raw.get("filters", True),
        )
    if spec.dataset is not None and kind is not None and kind != "rlvr":
        raise DataError(
            f"source #{index} ({spec.path}): `dataset` only applies to kind='rlvr' (it fills the rlvr "
            f"`dataset` column); this mixture has kind={kind!r}"
        )
    return spec


def parse_sources(
    sources: list[Mapping[str, Any] | SourceSpec] | Mapping[str, float | int], kind: str | None = None
) -> list[SourceSpec]:
    """Validate a whole mixture spec: a list of source dicts, or the dict form ``{path: amount}``.

    In the dict form a float amount is a fraction of the source and an int a row count (open-instruct HEAD).
    """
    if isinstance(sources, Mapping):
        items: list[Mapping[str, Any] | SourceSpec] = []
        for path, amount in sources.items():
            if not _is_number(amount):
                raise DataError(f"source {path!r}: amount must be a float (fraction) or int (count), got {amount!r}")
            key = "count" if isinstance(amount, int) else "fraction"
            items.append({"path": path, key: amount})
        sources = items
    if not isinstance(sources, (list, tuple)):
        raise DataError(f"sources must be a list of dicts or a {{path: amount}} dict, got {type(sources).__name__}")
    if not sources:
        raise DataError("the mixture has no sources")
    return [parse_source(raw, i, kind) for i, raw in enumerate(sources)]


def resolve_local_path(path: str, base_dir: str | Path | None) -> Path | None:
    """Return the existing local path for ``path`` (``base_dir`` first, then the cwd), or ``None``."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate if candidate.exists() else None
    if base_dir is not None and (Path(base_dir) / candidate).exists():
        return Path(base_dir) / candidate
    if candidate.exists():
        return candidate.resolve()
    return None


def looks_like_hub_id(path: str) -> bool:
    """True for ``owner/name`` strings that are not obviously local files (no data-file suffix)."""
    return bool(_HUB_ID.match(path)) and Path(path).suffix.lower() not in _FILE_BUILDERS


def _load_local(spec: SourceSpec, local: Path, cache_dir: str | None) -> datasets.Dataset:
    if local.is_file():
        builder = _FILE_BUILDERS.get(local.suffix.lower())
        if builder is None:
            raise DataError(
                f"source {spec.path!r}: cannot read {local.name!r}; supported files: "
                f"{', '.join(sorted(_FILE_BUILDERS))} or a folder saved with save_to_disk"
            )
        # File builders put every row in the "train" split; the spec's `split` does not apply to one file.
        try:
            with quiet_builder_errors():
                return datasets.load_dataset(builder, data_files=str(local), split="train", cache_dir=cache_dir)
        except Exception as err:  # datasets wraps a parse error in a long DatasetGenerationError
            raise unreadable_file_error(spec.path, local, err) from None
    if (local / "dataset_info.json").exists() or (local / "dataset_dict.json").exists():
        loaded = datasets.load_from_disk(str(local))
        if isinstance(loaded, datasets.DatasetDict):
            if spec.split not in loaded:
                raise DataError(
                    f"source {spec.path!r}: split {spec.split!r} not in the saved DatasetDict (has {sorted(loaded)})"
                )
            return loaded[spec.split]
        return loaded
    # A folder of data files: let datasets infer the builder and splits from the file names.
    return datasets.load_dataset(
        str(local), name=spec.name, data_files=spec.data_files, split=spec.split, cache_dir=cache_dir
    )


def load_source(spec: SourceSpec, base_dir: str | Path | None = None, cache_dir: str | None = None) -> datasets.Dataset:
    """Load one source as a ``datasets.Dataset`` (local file/folder, or Hub dataset by id)."""
    local = resolve_local_path(spec.path, base_dir)
    if local is not None:
        return _load_local(spec, local, cache_dir)
    if not looks_like_hub_id(spec.path):
        looked = [str(Path(base_dir) / spec.path)] if base_dir is not None else []
        looked.append(str(Path.cwd() / spec.path))
        raise DataError(
            f"source {spec.path!r}: no such local file or folder (looked at {', '.join(looked)}) and it is "
            "not a Hub id of the form owner/name"
        )
    try:
        loaded = datasets.load_dataset(
            spec.path,
            spec.name,
            split=spec.split,
            data_files=spec.data_files,
            revision=spec.revision,
            cache_dir=cache_dir,
        )
    except (ConnectionError, OSError, FileNotFoundError, ValueError) as err:  # offline, unreachable, unknown id
        raise hub_error(spec.path, err) from None
    if not isinstance(loaded, datasets.Dataset):
        raise DataError(f"source {spec.path!r}: expected one split, got {type(loaded).__name__}")
    return loaded
