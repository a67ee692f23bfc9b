"""Evaluation sets to decontaminate against: the defaults, local files and Hugging Face Hub datasets.

Spec strings (``parse_eval_spec``), each optionally prefixed with ``name=``:

- a default name: ``gsm8k`` (``openai/gsm8k`` config ``main``, split ``test``, field ``question``), ``math``
  (``HuggingFaceH4/MATH-500``, ``test``, ``problem``), ``ifeval`` (``google/IFEval``, ``train``, ``prompt``).
  With ``local_dir`` (or ``$TULU_RECIPES_EVAL_DIR``) the defaults read ``gsm8k_test.jsonl``,
  ``math_test.jsonl`` and ``ifeval_input_data.jsonl`` from that folder instead of the Hub (offline use);
- a local ``.json``/``.jsonl``/``.parquet`` file, ``path[:field]`` (field default ``prompt``);
- a Hub dataset, ``owner/name:split:field`` or ``owner/name:config:split:field``.

A field holding a chat conversation contributes its user turns joined by newlines.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tulu_recipes.data.decontamination.text import prompt_text
from tulu_recipes.data.errors import DataError
from tulu_recipes.data.file_checks import hub_offline

LOCAL_SUFFIXES = (".json", ".jsonl", ".parquet")
EVAL_DIR_ENV = "TULU_RECIPES_EVAL_DIR"
OFFLINE_HINT = (
    f"to read local files, set {EVAL_DIR_ENV} (or `--eval-dir`) to a folder holding gsm8k_test.jsonl, "
    "math_test.jsonl and ifeval_input_data.jsonl, such as ../shared/data"
)


@dataclass(frozen=True)
class EvalSpec:
    """Where an evaluation set's prompts come from."""

    name: str
    path: str  # a local file or a Hub id
    field: str
    split: str = "test"
    config: str | None = None
    local_file: str | None = None  # file name used instead of the Hub when a local_dir is given


DEFAULT_EVAL_SPECS: dict[str, EvalSpec] = {
    "gsm8k": EvalSpec("gsm8k", "openai/gsm8k", "question", "test", "main", "gsm8k_test.jsonl"),
    "math": EvalSpec("math", "HuggingFaceH4/MATH-500", "problem", "test", None, "math_test.jsonl"),
    "ifeval": EvalSpec("ifeval", "google/IFEval", "prompt", "train", None, "ifeval_input_data.jsonl"),
}
DEFAULT_EVAL_SETS = tuple(DEFAULT_EVAL_SPECS)


def parse_eval_spec(spec: str) -> EvalSpec:
    """Parse ``[name=]target`` (see the module docstring)."""
    name, sep, target = spec.partition("=")
    if not sep:
        name, target = "", spec
    if target in DEFAULT_EVAL_SPECS:
        base = DEFAULT_EVAL_SPECS[target]
        return EvalSpec(name or base.name, base.path, base.field, base.split, base.config, base.local_file)
    head, colon, field = target.rpartition(":")
    if colon and head.endswith(LOCAL_SUFFIXES):
        return EvalSpec(name or Path(head).stem, head, field or "prompt")
    if target.endswith(LOCAL_SUFFIXES):
        return EvalSpec(name or Path(target).stem, target, "prompt")
    parts = target.split(":")
    if len(parts) == 3:
        hub_id, split, field = parts
        config = None
    elif len(parts) == 4:
        hub_id, config, split, field = parts
    else:
        raise ValueError(
            f"cannot parse eval spec {spec!r}: use a default name, file[:field] or id[:config]:split:field"
        )
    return EvalSpec(name or hub_id.split("/")[-1], hub_id, field, split, config)


def _looks_local(path: str) -> bool:
    return path.endswith(LOCAL_SUFFIXES)


def read_local(path: str | Path, field: str) -> list[str]:
    """Prompts of a local json (a list of rows, or ``{"data": [...]}``), jsonl or parquet file."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        values = pq.read_table(path, columns=[field]).column(field).to_pylist()
    elif path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as f:
            values = [json.loads(line)[field] for line in f if line.strip()]
    elif path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["data"] if isinstance(data, dict) else data
        values = [row[field] for row in rows]
    else:
        raise ValueError(f"unsupported evaluation file type: {path}")
    return [prompt_text(v) for v in values]


def load_eval_set(spec: str | EvalSpec, local_dir: str | Path | None = None) -> tuple[str, list[str]]:
    """``(name, prompts)`` of one evaluation set; defaults come from ``local_dir`` (or the folder named by
    ``$TULU_RECIPES_EVAL_DIR``) when it is given, else from the Hub."""
    spec = parse_eval_spec(spec) if isinstance(spec, str) else spec
    local_dir = local_dir if local_dir is not None else (os.environ.get(EVAL_DIR_ENV) or None)
    if spec.local_file and local_dir is not None:
        path = Path(local_dir) / spec.local_file
        if not path.is_file():
            raise DataError(f"evaluation set {spec.name!r}: {path} does not exist ({OFFLINE_HINT})")
        return spec.name, read_local(path, spec.field)
    if _looks_local(spec.path):
        return spec.name, read_local(spec.path, spec.field)
    if spec.local_file and hub_offline():
        raise DataError(
            f"evaluation set {spec.name!r} comes from the Hub ({spec.path}), but the Hub is offline; {OFFLINE_HINT}"
        )
    import datasets

    try:
        ds = datasets.load_dataset(spec.path, spec.config, split=spec.split)
    except (ConnectionError, OSError, ValueError) as err:  # no network, or not cached while offline
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        hint = f"; {OFFLINE_HINT}" if spec.local_file else "; or use a local file spec, FILE[:FIELD]"
        raise DataError(f"evaluation set {spec.name!r}: cannot load {spec.path} from the Hub ({first}){hint}") from None
    return spec.name, [prompt_text(v) for v in ds[spec.field]]


def load_eval_sets(
    specs: list[str | EvalSpec] | None = None, local_dir: str | Path | None = None
) -> dict[str, list[str]]:
    """``{name: prompts}`` for several specs (default: gsm8k, math, ifeval); names must be unique."""
    out: dict[str, list[str]] = {}
    for spec in specs if specs is not None else list(DEFAULT_EVAL_SETS):
        name, texts = load_eval_set(spec, local_dir)
        if name in out:
            raise ValueError(f"duplicate evaluation set name {name!r}; prefix one spec with 'name='")
        out[name] = texts
    return out
