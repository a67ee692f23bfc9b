"""Normalize the row formats found on the Hub into the one format each training stage needs.

Output columns (every other column is dropped; messages keep only ``role`` and ``content``):

- ``kind="sft"``: ``messages`` (list of ``{"role", "content"}``) and ``source``.
- ``kind="preference"``: ``prompt`` (every message before the final assistant turn), ``chosen`` and
  ``rejected`` (each a one-message list holding the final assistant turn) and ``source``.
  Earlier assistant turns stay in ``prompt``; whether DPO counts them is ``TuluDPOConfig.preference_turns``.
- ``kind="rlvr"``: ``prompt`` (a message list ending in a user turn), ``ground_truth`` (str; other values are
  JSON-dumped), ``dataset`` (str; the verifier name) and ``source``.

Accepted inputs, tried in this order:

- sft: ``messages``; ``conversations`` (role/content, or ShareGPT ``from``/``value`` with human -> user,
  gpt -> assistant, system -> system); ``prompt``/``completion`` (strings or message lists; a string prompt is
  a user turn, a string completion an assistant turn); ``instruction``/``output`` (plus an optional ``input``,
  appended to the instruction after a blank line when non-empty).
- preference: ``chosen``/``rejected`` holding full conversations that share a prompt prefix (Tülu format; a
  ``prompt`` column next to them is redundant and ignored), or TRL explicit ``prompt``/``chosen``/``rejected``
  (strings or message lists; a string prompt is a user turn, string answers are assistant turns). Differing
  prefixes are a ``DataError`` naming the source and the row index.
- rlvr: open-instruct ``messages`` (a trailing assistant turn is dropped) or TRL ``prompt`` (string or
  messages), each with ``ground_truth`` and ``dataset`` columns; a missing ``dataset`` column (or an empty
  value) is filled from the source spec's ``dataset``. A one-element list in ``dataset`` is unwrapped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import datasets

from tulu_recipes.data.errors import DataError

KINDS = ("sft", "preference", "rlvr")

MESSAGE_LIST = [{"role": datasets.Value("string"), "content": datasets.Value("string")}]

FEATURES: dict[str, datasets.Features] = {
    "sft": datasets.Features({"messages": MESSAGE_LIST, "source": datasets.Value("string")}),
    "preference": datasets.Features(
        {
            "prompt": MESSAGE_LIST,
            "chosen": MESSAGE_LIST,
            "rejected": MESSAGE_LIST,
            "source": datasets.Value("string"),
        }
    ),
    "rlvr": datasets.Features(
        {
            "prompt": MESSAGE_LIST,
            "ground_truth": datasets.Value("string"),
            "dataset": datasets.Value("string"),
            "source": datasets.Value("string"),
        }
    ),
}

SHAREGPT_ROLES = {
    "human": "user",
    "gpt": "assistant",
    "system": "system",
    "user": "user",
    "assistant": "assistant",
}

# For each kind: (format name, columns that must all be present), in the order they are tried.
FORMATS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "sft": (
        ("messages", ("messages",)),
        ("conversations", ("conversations",)),
        ("prompt_completion", ("prompt", "completion")),
        ("instruction_output", ("instruction", "output")),
    ),
    "preference": (("chosen_rejected", ("chosen", "rejected")),),
    "rlvr": (
        ("messages", ("messages", "ground_truth")),
        ("prompt", ("prompt", "ground_truth")),
    ),
}

Message = dict[str, Any]


def detect_format(columns: Sequence[str], kind: str, label: str) -> str:
    """Name of the first accepted input format whose columns are all present, else ``DataError``."""
    if kind not in FORMATS:
        raise DataError(f"unknown data kind {kind!r}; expected one of {', '.join(KINDS)}")
    for name, needed in FORMATS[kind]:
        if all(col in columns for col in needed):
            return name
    expected = " or ".join("+".join(needed) for _, needed in FORMATS[kind])
    raise DataError(
        f"source {label!r}: cannot build kind={kind!r} rows; it has columns {sorted(columns)}, expected {expected}"
    )


def _where(label: str, idx: int) -> str:
    return f"source {label!r}, row {idx}"


def to_message(raw: Any, where: str) -> Message:
    """Turn one role/content or ShareGPT from/value dict into ``{"role", "content"}``."""
    if not isinstance(raw, dict):
        raise DataError(f"{where}: a message must be a dict, got {type(raw).__name__} {raw!r:.80}")
    if raw.get("role") is not None:
        role, content = raw["role"], raw.get("content")
    elif raw.get("from") is not None:
        role = SHAREGPT_ROLES.get(str(raw["from"]).lower(), str(raw["from"]).lower())
        content = raw.get("value")
    else:
        raise DataError(f"{where}: a message needs role/content or from/value keys, got keys {sorted(raw)}")
    if content is not None and not isinstance(content, str):
        raise DataError(f"{where}: message content must be text, got {type(content).__name__}")
    return {"role": str(role), "content": content}


def to_messages(value: Any, default_role: str, where: str) -> list[Message]:
    """A string becomes one ``default_role`` message; a list is converted message by message."""
    if isinstance(value, str):
        return [{"role": default_role, "content": value}]
    if isinstance(value, (list, tuple)):
        return [to_message(m, where) for m in value]
    raise DataError(f"{where}: expected a string or a list of messages, got {type(value).__name__}")


def _sft_row(row: dict[str, Any], idx: int, fmt: str, label: str) -> dict[str, Any]:
    where = _where(label, idx)
    if fmt in ("messages", "conversations"):
        messages = to_messages(row[fmt], "user", where)
    elif fmt == "prompt_completion":
        messages = to_messages(row["prompt"], "user", where) + to_messages(row["completion"], "assistant", where)
    else:
        instruction = row["instruction"] if row["instruction"] is not None else ""
        extra = row.get("input")
        if isinstance(extra, str) and extra.strip():
            instruction = f"{instruction}\n\n{extra}"
        messages = [{"role": "user", "content": instruction}, {"role": "assistant", "content": row["output"]}]
    return {"messages": messages, "source": label}


def _full_conversation(answer: Any, prompt: list[Message] | None, side: str, where: str) -> list[Message]:
    messages = to_messages(answer, "assistant", where)
    if not messages:
        raise DataError(f"{where}: `{side}` is empty")
    if messages[0]["role"] != "assistant":
        return messages  # already a full conversation (Tülu format)
    if prompt is None:
        raise DataError(f"{where}: `{side}` holds only the answer and the row has no `prompt`")
    return prompt + messages


def _preference_row(row: dict[str, Any], idx: int, label: str) -> dict[str, Any]:
    where = _where(label, idx)
    prompt = to_messages(row["prompt"], "user", where) if row.get("prompt") is not None else None
    chosen = _full_conversation(row["chosen"], prompt, "chosen", where)
    rejected = _full_conversation(row["rejected"], prompt, "rejected", where)
    for side, conv in (("chosen", chosen), ("rejected", rejected)):
        if conv[-1]["role"] != "assistant":
            raise DataError(f"{where}: `{side}` must end with an assistant turn, ends with {conv[-1]['role']!r}")
    if chosen[:-1] != rejected[:-1]:
        raise DataError(
            f"{where}: `chosen` and `rejected` do not share the same prompt (the messages before the final "
            f"assistant turn differ: {len(chosen) - 1} vs {len(rejected) - 1} messages)"
        )
    if not chosen[:-1]:
        raise DataError(f"{where}: no prompt before the final assistant turn")
    return {"prompt": chosen[:-1], "chosen": chosen[-1:], "rejected": rejected[-1:], "source": label}


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _rlvr_row(row: dict[str, Any], idx: int, fmt: str, label: str, default_dataset: str | None) -> dict[str, Any]:
    where = _where(label, idx)
    prompt = to_messages(row[fmt], "user", where)
    if prompt and prompt[-1]["role"] == "assistant":
        prompt = prompt[:-1]
    if not prompt or prompt[-1]["role"] != "user":
        raise DataError(f"{where}: the prompt must end with a user turn")
    if row["ground_truth"] is None:
        raise DataError(f"{where}: `ground_truth` is missing (None)")
    dataset = row.get("dataset")
    if isinstance(dataset, (list, tuple)) and len(dataset) == 1:
        dataset = dataset[0]
    if dataset is None or dataset == "":
        dataset = default_dataset
    if dataset is None:
        raise DataError(f"{where}: `dataset` is empty and the source spec gives no `dataset`")
    return {
        "prompt": prompt,
        "ground_truth": _as_text(row["ground_truth"]),
        "dataset": _as_text(dataset),
        "source": label,
    }


def normalize(
    ds: datasets.Dataset,
    kind: str,
    label: str,
    dataset_name: str | None = None,
    num_proc: int | None = None,
) -> datasets.Dataset:
    """Convert ``ds`` to the ``kind`` format described in the module docstring, adding ``source = label``.

    ``dataset_name`` fills the rlvr ``dataset`` column where the data has none. Raises ``DataError``
    naming the source when needed columns are missing, and naming the row when a row cannot be converted.
    """
    fmt = detect_format(ds.column_names, kind, label)
    fn: Callable[..., dict[str, Any]]
    if kind == "sft":
        fn = partial(_sft_row, fmt=fmt, label=label)
    elif kind == "preference":
        fn = partial(_preference_row, label=label)
    else:
        if "dataset" not in ds.column_names and dataset_name is None:
            raise DataError(
                f"source {label!r}: rlvr data needs a `dataset` column (the verifier name) or `dataset:` "
                f"in the source spec; it has columns {sorted(ds.column_names)}"
            )
        fn = partial(_rlvr_row, fmt=fmt, label=label, default_dataset=dataset_name)
    return ds.map(
        fn,
        with_indices=True,
        remove_columns=ds.column_names,
        features=FEATURES[kind],
        num_proc=num_proc if num_proc and num_proc > 1 and len(ds) > 1 else None,
        desc=f"normalize {label}",
    )
