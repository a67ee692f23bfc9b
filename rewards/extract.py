"""Answer extraction shared by the verifiers: completion text, ``\\boxed{}`` groups, numbers.

Rules:
- A completion is a string or a chat message list; its text is the content of the LAST assistant
  message (or of the last message when none is marked assistant). Anything else gives "".
- Boxed answers are found by brace counting (regexes cannot match nested braces): every
  ``\\boxed{...}``, ``\\boxed ...`` (one token) and ``\\fbox{...}``; an unclosed group is dropped.
- Numbers: optional sign (``-``, ``+``, unicode minus) only when the sign is not glued to a preceding
  word, digit or bracket (so ``16-3`` is 16 and 3, while ``= -3`` is -3); an optional ``$``; digits with
  optional thousands commas (``1,450,000``) and an optional decimal part. Values are exact
  ``Decimal``s; anything longer than :data:`MAX_NUMBER_CHARS` is ignored so no huge conversion runs.

All functions run in linear time in the input length (no nested quantifiers, single-pass scans).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_NUMBER_CHARS = 64
_MINUS = "\u2212\ufe63\uff0d"
NUMBER_RE = re.compile(
    r"(?<![\w)\]}.])(?P<sign>[-+" + _MINUS + r"]?)\s?\\?\$?\s?"
    r"(?P<body>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?!\d)"
)
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")


def completion_text(completion: Any) -> str:
    """The text a verifier judges: a plain string, or the last assistant turn of a message list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        content = completion.get("content")
        return content if isinstance(content, str) else ""
    if isinstance(completion, (list, tuple)) and completion:
        messages = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in messages if m.get("role") == "assistant"]
        chosen = (assistant or messages or [None])[-1]
        if chosen is not None:
            content = chosen.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):  # multimodal parts: join the text parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _group_end(text: str, open_index: int) -> int:
    """Index just past the brace group opening at ``open_index``, or -1 if it never closes."""
    depth = 0
    for i in range(open_index, len(text)):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def boxed_all(text: str) -> list[str]:
    """Contents of every top-level ``\\boxed{}``/``\\fbox{}`` in order, by brace counting.

    A box nested inside another box is part of the outer answer (scanning resumes after the outer
    group), which also keeps the scan linear on adversarial nesting.
    """
    return [content for _, _, content in boxed_spans(text)]


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of every top-level box (the rule of :func:`boxed_all`), with the offsets of the
    whole ``\\boxed{...}`` in ``text``."""
    found: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        match = _BOX_RE.search(text, pos)
        if match is None:
            return found
        i = match.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            end = _group_end(text, i)
            if end < 0:
                return found  # an unclosed group runs to the end: nothing later can close
            found.append((match.start(), end, text[i + 1 : end - 1]))
            pos = end
        else:
            token = re.match(r"[^\s$]+", text[i : i + 200]) if match.group(0) == "\\boxed" and i > match.end() else None
            if token:
                found.append((match.start(), i + token.end(), token.group(0)))
            pos = match.end()


def last_boxed(text: str) -> str | None:
    """The last boxed answer, or None."""
    found = boxed_all(text)
    return found[-1] if found else None


def to_decimal(sign: str, body: str) -> Decimal | None:
    """Exact value of a matched number, or None if it is too long to be an answer."""
    body = body.replace(",", "")
    if len(body) > MAX_NUMBER_CHARS:
        return None
    try:
        value = Decimal(body)
    except InvalidOperation:
        return None
    return -value if sign and sign != "+" else value


def numbers(text: str) -> list[tuple[Decimal, int, int]]:
    """Every number in ``text`` as ``(value, start, end)``; over-long numbers are skipped."""
    out = []
    for match in NUMBER_RE.finditer(text):
        value = to_decimal(match.group("sign"), match.group("body"))
        if value is not None:
            out.append((value, match.start(), match.end()))
    return out


def parse_number(text: str) -> Decimal | None:
    """The value of ``text`` when it is exactly one number (currency, commas, sign, spaces allowed)."""
    stripped = text.strip().rstrip(".").strip()
    match = NUMBER_RE.fullmatch(stripped)
    if match is None:
        return None
    return to_decimal(match.group("sign"), match.group("body"))
