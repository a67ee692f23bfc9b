"""Text side of decontamination: the word tokenizer and prompt extraction from rows.

Tokenization rule (applied identically to evaluation and training text):

1. Unicode NFKC normalization (full-width letters, ligatures and compatibility forms fold to plain ones),
2. ``str.casefold()`` (a stronger lowercase: ``"Straße"`` and ``"STRASSE"`` agree),
3. tokens are the maximal runs of ``\\w`` characters (letters, digits, underscore; Python's Unicode ``\\w``).

Punctuation, whitespace and markup symbols are never tokens, so ``"Hello, world!"`` and ``"hello world"`` are
the same two tokens and LaTeX ``\\frac{1}{2}`` is ``frac 1 2``. This is close to the standard Elasticsearch
analyzer that the paper's tool most likely ran (lowercased Unicode word tokens).

Prompt extraction rule (paper: prompts only): a value that is a chat conversation (a list of ``{"role",
"content"}`` dicts) contributes the content of its ``user`` turns only, one segment per turn; a string is one
segment; a list of strings is one segment per string; ``None`` is no segment. n-grams never span two segments.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

TOKEN_RE = re.compile(r"\w+")

# Markers joined between normalized texts of a batch: upper case, so never produced by ``normalize``.
SEGMENT_TOKEN = "ZZSEGMENT"
ROW_TOKEN = "ZZROW"

# Column names tried, in order, when no text field is named.
DEFAULT_TEXT_FIELDS = ("messages", "prompt", "text")


def normalize(text: str) -> str:
    """NFKC-normalize then casefold ``text`` (step 1 and 2 of the tokenization rule)."""
    return unicodedata.normalize("NFKC", text).casefold()


def tokenize(text: str) -> list[str]:
    """The word tokens of ``text`` under the module's tokenization rule."""
    return TOKEN_RE.findall(normalize(text))


def value_segments(value: Any) -> list[str]:
    """Prompt segments of one field value: user turns of a conversation, a string, or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):  # a single message
        return [value.get("content") or ""] if value.get("role") == "user" else []
    segments: list[str] = []
    for item in value:
        if isinstance(item, str):
            segments.append(item)
        elif isinstance(item, Mapping):
            if item.get("role") == "user" and item.get("content"):
                segments.append(str(item["content"]))
        else:
            raise TypeError(f"cannot extract prompt text from a list item of type {type(item).__name__}")
    return segments


def resolve_text_field(columns: Any, text_field: str | None) -> str:
    """``text_field`` when given, else the first of ``DEFAULT_TEXT_FIELDS`` present in ``columns``."""
    if text_field is not None:
        if text_field not in columns:
            raise KeyError(f"text field {text_field!r} not found; columns are {sorted(columns)}")
        return text_field
    for name in DEFAULT_TEXT_FIELDS:
        if name in columns:
            return name
    raise KeyError(
        f"no prompt column among {DEFAULT_TEXT_FIELDS}; name one with text_field (columns: {sorted(columns)})"
    )


def prompt_segments(row: Any, text_field: str | None = None) -> list[str]:
    """Prompt segments of a training row.

    ``row`` is a mapping (a dataset row: its ``text_field`` column is read, by default the first of
    ``messages``/``prompt``/``text``) or directly a field value (a string, a list of strings, or a chat).
    """
    if isinstance(row, Mapping) and not ("role" in row and "content" in row):
        return value_segments(row[resolve_text_field(row.keys(), text_field)])
    return value_segments(row)


def prompt_text(row: Any, text_field: str | None = None) -> str:
    """The prompt segments of ``row`` joined by a newline (for display and for evaluation instances)."""
    return "\n".join(prompt_segments(row, text_field))
