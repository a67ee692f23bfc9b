"""GSM8K verifier: the one final number of a completion equals the gold number, exactly.

Rule for ``verify(completion, ground_truth)``:

Gold: a number (``"18"``, ``"-3"``, ``"1,450,000"``, ``"$18.00"``) or a full GSM8K answer, whose gold is
the number after its last ``####``.

Committed answers, from every marker in the text: ``#### N`` (not a Markdown heading ``#### Step 1``),
"... answer is N" or an "Answer: N" line (any case; Tülu 8-shot, Minerva and Llama
``The final answer is: $\\boxed{18}$`` lines), and every non-empty ``\\boxed{}``. A marker's segment runs
from the marker to the end of its line (leading spaces, ``:`` and ``**``
skipped); when it has an ``=`` outside parentheses only the text after the last such ``=`` counts (``The answer
is 5 - 3 = 2`` -> 2), and the answer is the segment's first number not negated: "not 5" is never an answer,
"not 5, it is 6" commits to 6, and a parenthetical after the number is an aside (``18 (= 6 × 3)`` -> 18).
One answer: all committed values must be equal. Two different committed values are a hedge and score False,
whichever marker comes later (``\\boxed{18}`` then ``#### 19``, ``#### 5`` then ``#### 6``, two "The answer
is" lines), and so is a committed number followed by an alternative (``5 or 6``, ``5/6``, ``5, 6 or 7``,
``5 and 6``, ``5 to 6``, "either $3$ or $4$", ``12, 15``). A marker that commits only to a negation ("the answer
is not 5") commits to nothing and scores False. Without any marker the answer is the last number of the text
that is not negated, unless "N or M" offers it as an alternative.
Numbers keep their sign (ASCII or unicode minus; the open-instruct regex lost it), lose ``$``,
thousands commas and trailing words, and compare as exact Decimals (``18.0 == 18``,
``18.50 == 18.5``; no float rounding). All work is linear-time regex scanning in-process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from rewards.extract import NUMBER_RE, boxed_all, numbers, parse_number, to_decimal

_ANSWER_IS = re.compile(r"answer\s+is\b|^[ \t>#*]*(?:final\s+)?answer\s*\**\s*:", re.IGNORECASE | re.MULTILINE)
_HEADING = re.compile(r"#*\s*[A-Za-z]{2}")  # "#### Step 1: ..." is a Markdown heading, not an answer
_LEAD = re.compile(r"[\s:*]*")
_NOT = re.compile(r"(?:\bnot|n't|\\neq|\u2260)\s*(?:equal\s+to\s+)?(?:\\?\$|\\boxed\{|\()*\s*$", re.IGNORECASE)
_ALTERNATIVE = re.compile(
    r"[\s$})*]*(?:,|\bor\b|\band\b|\bto\b|/|\\text\{\s*or\s*\})\s*(?:either\s+|maybe\s+|perhaps\s+)?"
    r"[\s({]*(?:\\boxed\{|\\?\$)?\s*"
)
_OR_BEFORE = re.compile(r"(?:\bor\b|/)[\s$({]*(?:\\boxed\{)?\s*$")


def _depth0_equals(segment: str) -> int:
    """Index just past the last ``=`` outside parentheses, or 0."""
    depth, last = 0, 0
    for i, char in enumerate(segment):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == "=" and depth == 0:
            last = i + 1
    return last


def _negated(text: str, start: int) -> bool:
    return _NOT.search(text[max(0, start - 24) : start]) is not None


def _segment_value(segment: str) -> tuple[Decimal | None, bool, bool]:
    """``(value, hedged, negated)`` for one answer segment (text after a marker, to its line end)."""
    segment = segment[_LEAD.match(segment).end() :].split("\n", 1)[0][:500]
    segment = segment[_depth0_equals(segment) :]
    negated = False
    for match in NUMBER_RE.finditer(segment):
        if _negated(segment, match.start()):
            negated = True
            continue
        value = to_decimal(match.group("sign"), match.group("body"))
        if value is None:
            return None, False, False
        rest = segment[match.end() :].split("(", 1)[0]
        alt = _ALTERNATIVE.match(rest)
        if alt is not None:
            other = NUMBER_RE.match(rest, alt.end())
            if other is not None and to_decimal(other.group("sign"), other.group("body")) != value:
                return value, True, False
        return value, False, False
    return None, False, negated


def final_number(text: str) -> Decimal | None:
    """The one number ``text`` commits to, or None (no number, or hedging); rule in the docstring."""
    segments = [x for x in text.split("####")[1:] if not _HEADING.match(x)] if "####" in text else []
    segments += [text[m.end() : m.end() + 600] for m in _ANSWER_IS.finditer(text)]
    segments += [b for b in boxed_all(text) if b.strip()]
    values: set[Decimal] = set()
    negated = False
    for segment in segments:
        value, hedged, was_negated = _segment_value(segment)
        if hedged:
            return None
        if value is not None:
            values.add(value)
        negated = negated or was_negated
    if len(values) == 1:
        return values.pop()
    if values or negated:
        return None  # two different committed answers, or a marker committing only to "not N"
    for value, start, _ in reversed(numbers(text)):
        if _negated(text, start):
            continue
        before = text[max(0, start - 40) : start]
        alt = _OR_BEFORE.search(before)
        if alt is not None:
            previous = [v for v, _, end in numbers(before[: alt.start()]) if end >= alt.start() - 3]
            if previous and previous[-1] != value:
                return None
        return value
    return None


def gold_number(ground_truth: str) -> Decimal | None:
    """The gold value: the number after the last ``####``, else the whole string as one number."""
    if "####" in ground_truth:
        value, _, _ = _segment_value(ground_truth.rsplit("####", 1)[1].strip())
        return value
    return parse_number(ground_truth)


def verify(completion: str, ground_truth: str) -> bool:
    """Whether ``completion``'s one final number equals the gold number exactly (rule in the docstring)."""
    try:
        if not isinstance(completion, str):
            return False
        gold = gold_number(str(ground_truth))
        if gold is None:
            return False
        answer = final_number(completion)
        return answer is not None and answer == gold
    except Exception:  # noqa: BLE001 - a verifier never raises
        return False


def verify_batch(completions: Sequence[str], ground_truths: Sequence[str], timeout: float | None = None) -> list[bool]:
    """Verify many pairs. ``timeout`` is accepted for a uniform interface; the GSM8K rule is
    linear-time scanning of the text, so it runs in-process without a worker."""
    return [verify(c, g) for c, g in zip(completions, ground_truths, strict=True)]
