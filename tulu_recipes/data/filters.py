"""The Tülu 3 SFT data filters (paper §3.1.1, §4.1.1; open-instruct ``scripts/data/sft/utils.py``).

Rules, applied to normalized rows in this order (a row is counted under the first filter that drops it):

1. ``empty_turns``: drop the row if any message has ``None`` content or content that is empty after
   ``strip()``. Looks at every message: ``messages`` (sft); ``prompt``, ``chosen`` and ``rejected``
   (preference); ``prompt`` (rlvr).
2. ``identity``: drop the row if any **assistant** message mentions a model identity keyword,
   case-insensitively and on word boundaries (``"OpenAI"`` matches in ``"by OpenAI."`` but not in
   ``"openaiish"``). Keywords found in user or system turns do not count. For preference rows both the chosen
   and the rejected answers (and any assistant turn of the prompt) are checked.

The paper does not filter every source (e.g. the hard-coded identity set); per-source switching is the
mixer's job (``filters: false`` in a source spec).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import datasets

# Paper §2.4 word list, verbatim.
DEFAULT_IDENTITY_KEYWORDS: tuple[str, ...] = (
    "OpenAI",
    "Open AI",
    "ChatGPT",
    "Chat GPT",
    "GPT-3",
    "GPT3",
    "GPT 3",
    "GPT-4",
    "GPT4",
    "GPT 4",
    "GPT-3.5",
    "GPT3.5",
    "GPT 3.5",
    "BingChat",
    "Bing Chat",
    "LAION",
    "Open Assistant",
    "OpenAssistant",
)

FILTER_NAMES = ("empty_turns", "identity")

MESSAGE_COLUMNS = {"sft": ("messages",), "preference": ("prompt", "chosen", "rejected"), "rlvr": ("prompt",)}

_KEEP, _EMPTY, _IDENTITY = 0, 1, 2


@dataclass
class FilterConfig:
    """Which filters run. ``identity_keywords`` replaces the default list (paper §2.4) when given."""

    drop_empty_turns: bool = True
    identity_keywords: list[str] = field(default_factory=lambda: list(DEFAULT_IDENTITY_KEYWORDS))
    drop_identity: bool = True

    @property
    def active(self) -> bool:
        """True when at least one filter would run."""
        return self.drop_empty_turns or (self.drop_identity and bool(self.identity_keywords))


def identity_pattern(keywords: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive regex matching any keyword not glued to a letter, digit or underscore."""
    alternatives = "|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def has_empty_turn(messages: list[dict[str, Any]]) -> bool:
    """True if any message content is None or blank."""
    return any(m.get("content") is None or not m["content"].strip() for m in messages)


def mentions_identity(messages: list[dict[str, Any]], pattern: re.Pattern[str]) -> bool:
    """True if any assistant message matches ``pattern``."""
    return any(m.get("role") == "assistant" and m.get("content") and pattern.search(m["content"]) for m in messages)


def _reasons(
    batch: dict[str, list[Any]], columns: tuple[str, ...], empty: bool, pattern: re.Pattern[str] | None
) -> dict[str, list[int]]:
    size = len(batch[columns[0]])
    reasons = []
    for i in range(size):
        convs = [batch[col][i] or [] for col in columns]
        if empty and any(has_empty_turn(c) for c in convs):
            reasons.append(_EMPTY)
        elif pattern is not None and any(mentions_identity(c, pattern) for c in convs):
            reasons.append(_IDENTITY)
        else:
            reasons.append(_KEEP)
    return {"_filter_reason": reasons}


def apply_filters(
    ds: datasets.Dataset, kind: str, config: FilterConfig | None = None, num_proc: int | None = None
) -> tuple[datasets.Dataset, dict[str, int]]:
    """Drop the rows the filters reject; return the kept rows and ``{filter name: rows removed}``."""
    config = config or FilterConfig()
    removed = dict.fromkeys(FILTER_NAMES, 0)
    if not config.active or len(ds) == 0:
        return ds, removed
    pattern = identity_pattern(config.identity_keywords) if config.drop_identity and config.identity_keywords else None
    columns = MESSAGE_COLUMNS[kind]
    marked = ds.map(
        partial(_reasons, columns=columns, empty=config.drop_empty_turns, pattern=pattern),
        batched=True,
        num_proc=num_proc if num_proc and num_proc > 1 and len(ds) > 1 else None,
        desc="filter",
    )
    reasons = list(marked["_filter_reason"])
    removed["empty_turns"] = sum(r == _EMPTY for r in reasons)
    removed["identity"] = sum(r == _IDENTITY for r in reasons)
    keep = [i for i, r in enumerate(reasons) if r == _KEEP]
    if len(keep) == len(ds):
        return ds, removed
    return ds.select(keep), removed
