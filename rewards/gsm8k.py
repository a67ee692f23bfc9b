"""GSM8K verifier: the one final number of a completion equals the gold number, exactly.

Rule for ``verify(completion, ground_truth)``:

Gold: a number (``"18"``, ``"-3"``, ``"1,450,000"``, ``"$18.00"``) or a full GSM8K answer, whose gold is
the number after its last ``####``.

Final answer, from the first source that has a number:
1. after ``####``; 2. after "The answer is" (any case); 3. inside ``\\boxed{}``; 4. the last number.
For sources 1-3 the answer is the first number of the chosen (last) occurrence's segment, where a
segment runs to the end of its line; when the segment contains ``=`` only the text after the last
``=`` counts (``The answer is 5 - 3 = 2`` -> 2).
Hedging scores False: every occurrence of the chosen source must give the same value (``#### 5`` then
``#### 6`` fails), and the chosen answer must not list alternatives (``5 or 6``, ``5/6``, ``5, 6 or 7``,
``5 and 6``, ``5 to 6``).
Numbers keep their sign (ASCII or unicode minus; the open-instruct regex lost it), lose ``$``,
thousands commas and trailing words, and compare as exact Decimals (``18.0 == 18``,
``18.50 == 18.5``; no float rounding). All work is linear-time regex scanning in-process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from rewards.extract import NUMBER_RE, boxed_all, numbers, parse_number, to_decimal

_ANSWER_IS = re.compile(r"the (?:final )?answer is", re.IGNORECASE)
_ALTERNATIVE = re.compile(
    r"(?:\s*,\s*(?:\\?\$)?[-+\u2212]?\d+(?:\.\d+)?)*\s*(?:,\s*)?(?:(?:or|and|to)\b|/|\\text\{\s*or\s*\})\s*"
)


def _segment_value(segment: str) -> tuple[Decimal | None, bool]:
    """``(value, hedged)`` for one answer segment (text after a marker, up to its line end)."""
    segment = segment.split("\n", 1)[0]
    if "=" in segment:
        segment = segment.rsplit("=", 1)[1]
    match = NUMBER_RE.search(segment)
    if match is None:
        return None, False
    value = to_decimal(match.group("sign"), match.group("body"))
    rest = segment[match.end() :]
    alt = _ALTERNATIVE.match(rest)
    if alt is not None:
        other = NUMBER_RE.match(rest, alt.end())
        if other is not None and to_decimal(other.group("sign"), other.group("body")) != value:
            return value, True
    return value, False


def _marker_answer(segments: list[str]) -> tuple[bool, Decimal | None]:
    """``(found, value)`` over all occurrences of one marker; value None when they hedge."""
    values = []
    for segment in segments:
        value, hedged = _segment_value(segment)
        if value is None:
            continue
        if hedged:
            return True, None
        values.append(value)
    if not values:
        return False, None
    if len(set(values)) > 1:
        return True, None
    return True, values[-1]


def final_number(text: str) -> Decimal | None:
    """The one number ``text`` commits to, or None (no number, or hedging); rule in the docstring."""
    if "####" in text:
        found, value = _marker_answer(text.split("####")[1:])
        if found:
            return value
    starts = [m.end() for m in _ANSWER_IS.finditer(text)]
    if starts:
        found, value = _marker_answer([text[s : s + 500] for s in starts])
        if found:
            return value
    boxed = boxed_all(text)
    if boxed:
        found, value = _marker_answer(boxed)
        if found:
            return value
    all_numbers = numbers(text)
    return all_numbers[-1][0] if all_numbers else None


def gold_number(ground_truth: str) -> Decimal | None:
    """The gold value: the number after the last ``####``, else the whole string as one number."""
    if "####" in ground_truth:
        value, _ = _segment_value(ground_truth.rsplit("####", 1)[1].strip())
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
