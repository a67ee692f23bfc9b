"""The ``verifiable`` reward: route each row to its verifier by the ``dataset`` column.

Rule: a row whose ``dataset`` value names a registered verifier (case-insensitive, surrounding
spaces ignored: ``"gsm8k"``, ``"MATH"``, ``"ifeval"``) is judged by that verifier; any other value,
or a missing ``dataset`` column, gives None ("not my row"), which TRL ignores in its sums. Rows of
one verifier are verified together in one batch, so the time-limited pool is used once per verifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewards.registry import REGISTRY, Options, register


def verifier_for(dataset: Any) -> str | None:
    """The registered verifier a `dataset` value names (the rule above), or None. The one place rows are routed:
    training (the `verifiable` reward) and evaluation (local verifiable tasks) both ask it."""
    key = dataset.strip().lower() if isinstance(dataset, str) else ""
    return key if key in REGISTRY and key != "verifiable" else None


@register("verifiable")
def verifiable(texts: Sequence[str], truths: Sequence[Any], *, columns: Mapping, options: Options) -> list:
    """Batch verifier dispatching on ``columns["dataset"]``; None for rows no verifier owns."""
    datasets = columns.get("dataset")
    results: list[bool | None] = [None] * len(texts)
    if datasets is None:
        return results
    groups: dict[str, list[int]] = {}
    for i, dataset in enumerate(datasets):
        key = verifier_for(dataset)
        if key is not None:
            groups.setdefault(key, []).append(i)
    for key, rows in groups.items():
        verdicts = REGISTRY[key]([texts[i] for i in rows], [truths[i] for i in rows], columns=columns, options=options)
        for i, verdict in zip(rows, verdicts, strict=True):
            results[i] = verdict
    return results
