"""GSM8K verifier: the one final number of a completion equals the gold number, exactly.

Rule for ``verify(completion, ground_truth)``:

Gold: a number (``"18"``, ``"-3"``, ``"1,450,000"``, ``"$18.00"``) or a full GSM8K answer, whose gold is
the number after its last ``####``.

Judged text: what follows ``</think>``, up to an echoed or invented few-shot question-answer pair
(:mod:`rewards.region`; an answer that only repeats an echoed exemplar never scores). Committed answers, from every
marker in the text: ``#### N`` (not a Markdown heading ``#### Step 1``),
"... answer is N" or an "Answer: N" line (any case; Tülu 8-shot, Minerva and Llama
``The final answer is: $\\boxed{18}$`` lines), and every non-empty ``\\boxed{}``. A marker's segment runs
from the marker to the end of its line (leading spaces, ``:`` and ``**``
skipped); when it has an ``=`` outside parentheses only the text after the last such ``=`` counts (``The answer
is 5 - 3 = 2`` -> 2), and the answer is the segment's first number not negated: "not 5" is never an answer,
"not 5, it is 6" commits to 6, and a parenthetical after the number is an aside (``18 (= 6 × 3)`` -> 18) unless
it offers another value (``5 (or 6)`` is a hedge).
One answer: all committed values must be equal. Two different committed values are a hedge and score False,
whichever marker comes later (``\\boxed{18}`` then ``#### 19``, ``#### 5`` then ``#### 6``, two "The answer
is" lines), and so is a committed number followed by an alternative (``5 or 6``, ``5, 6 or 7``,
``5 and 6``, ``5 to 6``, "either $3$ or $4$", ``12, 15``). A marker that commits only to a negation ("the answer
is not 5") commits to nothing and scores False. Without any marker the answer is the last number of the text
that is not negated, unless "N or M" offers it as an alternative.
A committed answer posed as a question or rejected right after it ("that's wrong") does not count
(:mod:`rewards.retraction`). Number words and magnitude words are numbers (``twelve``, ``one hundred and five``,
``1.5 million``; :mod:`rewards.number_words`; outside marker segments a lone "one" stays a pronoun). A fraction
``3/4``, ``\\frac{3}{4}`` or mixed number ``1 1/2``, ``2½`` is one exact value (``3/4`` equals the gold ``0.75``).
A range (``10-12``, ``10 to 12``, "between 10 and 12") or a clock time / ratio (``3:30``) is not one number: it
never scores as its first (or last) number. Numbers keep their sign (ASCII or unicode minus; the open-instruct
regex lost it), lose ``$``, thousands commas and trailing words, and compare as exact Decimals (``18.0 == 18``,
``18.50 == 18.5``, fractions as Fractions; no float rounding). All work is linear-time regex scanning
in-process. :func:`extract` says "answer", "none" or "hedge" for diagnostics.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from rewards.extract import NUMBER_RE, boxed_spans, parse_number, to_decimal
from rewards.number_words import spell_out
from rewards.outcome import Extraction
from rewards.region import answer_region
from rewards.retraction import withdrawn
from rewards.unicode_math import unicode_to_tex

_ANSWER_IS = re.compile(
    r"answer\s+is\b|^[ \t>#*]*(?:final\s+)?answer\s*\**\s*:|\*\*(?:final\s+)?answer\s*:", re.IGNORECASE | re.MULTILINE
)
_HEADING = re.compile(r"#*\s*[A-Za-z]{2}")  # "#### Step 1: ..." is a Markdown heading, not an answer
_HASHES = re.compile("####")
_LEAD = re.compile(r"[\s:*]*")
_NOT = re.compile(r"(?:\bnot|n't|\\neq|\u2260)\s*(?:equal\s+to\s+)?(?:\\?\$|\\boxed\{|\()*\s*$", re.IGNORECASE)
_ALTERNATIVE = re.compile(
    r"[\s$})*]*(?:,|\bor\b|\band\b|\bto\b|\bthrough\b|[-\u2013\u2014]|\\text\{\s*or\s*\})\s*"
    r"(?:either\s+|maybe\s+|perhaps\s+)?[\s({]*(?:\\boxed\{|\\?\$)?\s*"
)
_RANGE_BEFORE = re.compile(
    r"(?:\d[\s$*]*\(?\s*(?:[-\u2013\u2014]|\bto\b|\bthrough\b|\bor\b|/)|\bbetween\b[^.\n]{0,40}\band\b)[\s$({*]*"
    r"(?:\\boxed\{)?\s*$"
)
_OFFERED = re.compile(r"\s*(?:or|maybe|possibly|perhaps|alternatively|otherwise)\b", re.IGNORECASE)
_FIRST_SENTENCE = re.compile(r"[.!?](?=\s|$)|\n")
_CLOCK = re.compile(r"\s*:\s*\d")
_CLOCK_BEFORE = re.compile(r"\d\s*:\s*$")
_FRACTION = re.compile(r"^\s*/\s*(\d{1,12})(?![\d/]|[.,]\d)")
_MIXED = re.compile(r"^\s+(\d{1,6})\s*/\s*(\d{1,6})(?![\d/]|[.,]\d)")
_TEX_FRACTION = re.compile(r"\\[dt]?frac\s*(?:\{\s*(\d{1,12})\s*\}|(\d))\s*(?:\{\s*(\d{1,12})\s*\}|(\d))")

Value = Decimal | Fraction
MAX_SEGMENTS = 64


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


def _plain(text: str) -> str:
    """Unicode math as TeX, ``\\frac{a}{b}`` as ``a/b`` (a mixed ``2\\frac12`` as ``2 1/2``)."""
    text = unicode_to_tex(text)
    if "frac" in text:
        text = _TEX_FRACTION.sub(lambda m: f" {m.group(1) or m.group(2)}/{m.group(3) or m.group(4)}", text)
    return text


def _value_at(text: str, match: re.Match) -> tuple[Value | None, int]:
    """The value of the number ``match`` in ``text`` with a fraction or mixed-number tail, and where it ends."""
    value: Value | None = to_decimal(match.group("sign"), match.group("body"))
    end = match.end()
    if value is None:
        return None, end
    fraction = _FRACTION.match(text[end : end + 16])
    if fraction and "." not in match.group("body") and int(fraction.group(1)):
        return Fraction(int(value), int(fraction.group(1))), end + fraction.end()
    mixed = _MIXED.match(text[end : end + 20])
    if mixed and "." not in match.group("body") and 0 < int(mixed.group(1)) < int(mixed.group(2)):
        part = Fraction(int(mixed.group(1)), int(mixed.group(2)))
        return (Fraction(int(value)) - part if value < 0 else Fraction(int(value)) + part), end + mixed.end()
    return value, end


def _segment_value(segment: str) -> tuple[Value | None, bool, bool]:
    """``(value, hedged, negated)`` for one answer segment (text after a marker, to its line end). A range
    (``10-12``, ``10 to 12``) or a clock time (``3:30``) is a hedge: not one number."""
    segment = segment[_LEAD.match(segment).end() :].split("\n", 1)[0][:500]
    segment = spell_out(_plain(segment))
    segment = segment[_depth0_equals(segment) :]
    negated = False
    for match in NUMBER_RE.finditer(segment):
        if _negated(segment, match.start()):
            negated = True
            continue
        value, end = _value_at(segment, match)
        if value is None:
            return None, False, False
        if _CLOCK.match(segment, end):
            return None, True, False
        rest, _, aside = segment[end:].partition("(")
        offered = _OFFERED.match(aside)
        if offered and (other := NUMBER_RE.search(aside, offered.end())) and _value_at(aside, other)[0] != value:
            return value, True, False  # "5 (or 6)": the aside offers another answer
        alt = _ALTERNATIVE.match(rest)
        if alt is not None:
            other = NUMBER_RE.match(rest, alt.end())
            dash = alt.group(0).strip(" $})*") in "-\u2013\u2014"  # "10-12" is a range, whatever the values
            if other is not None and (dash or _value_at(rest, other)[0] != value):
                return value, True, False
        return value, False, False
    return None, False, negated


def _segments(text: str) -> list[tuple[int, int, str]]:
    """``(marker start, segment end, segment)`` for every answer marker in ``text``."""
    found = []
    if "####" in text:
        for m in _HASHES.finditer(text):
            if not _HEADING.match(text, m.end()):
                stops = [i for i in (text.find("\n", m.end()), text.find("####", m.end())) if i >= 0]
                end = min([*stops, m.end() + 600])
                found.append((m.start(), end, text[m.end() : end]))
    for m in _ANSWER_IS.finditer(text):
        segment = text[m.end() : m.end() + 600]
        stop = _FIRST_SENTENCE.search(segment)
        found.append((m.start(), m.end() + (stop.start() if stop else len(segment)), segment))
    found += [(a, b, c) for a, b, c in boxed_spans(text) if c.strip()]
    return sorted(found, key=lambda f: (f[0], f[1]))


def _format(value: Value) -> str:
    return f"{value.numerator}/{value.denominator}" if isinstance(value, Fraction) else str(value)


def extract(text: str) -> Extraction:
    """What ``text`` answers: ``answer`` (the number as text), ``none`` or ``hedge`` (rule in the docstring)."""
    text = answer_region(text)
    segments = _segments(text)
    if len(segments) > MAX_SEGMENTS:
        return Extraction("hedge", None)  # dozens of answer markers are no single answer (and bound the work)
    values: list[Value] = []
    negated = withdrew = False
    for i, (start, end, segment) in enumerate(segments):
        later = next((f[0] for f in segments[i + 1 :] if f[0] >= end), None)
        if withdrawn(text, end, later, start):
            withdrew = True
            continue
        value, hedged, was_negated = _segment_value(segment)
        if hedged:
            return Extraction("hedge", None)
        if value is not None and value not in values:
            values.append(value)
        negated = negated or was_negated
    if len(values) == 1:
        return Extraction("answer", _format(values[0]))
    if values:
        return Extraction("hedge", None)  # two different committed answers
    if negated or withdrew:
        return Extraction("none", None)  # a marker committing only to "not N", or every answer taken back
    return _last_number(text)


def _last_number(text: str) -> Extraction:
    """Without any marker: the last number of the text (a fraction or mixed number read whole) that is not
    negated; a clock time, a range or an "N or M" alternative there is no single number."""
    text = spell_out(_plain(text), keep_pronoun_one=True)
    tokens: list[tuple[int, int, Value | None]] = []
    consumed = 0
    for match in NUMBER_RE.finditer(text):
        if match.start() < consumed:
            continue
        value, end = _value_at(text, match)
        tokens.append((match.start(), end, value))
        consumed = end
    for k in range(len(tokens) - 1, -1, -1):
        start, end, value = tokens[k]
        if _negated(text, start):
            continue
        if value is None:
            return Extraction("none", None)
        before = text[max(0, start - 60) : start]
        if _CLOCK.match(text, end) or _CLOCK_BEFORE.search(before):
            return Extraction("none", None)  # a clock time or a ratio is not one number
        if k and _RANGE_BEFORE.search(before) and tokens[k - 1][2] != value:
            return Extraction("hedge", None)
        return Extraction("answer", _format(value))
    return Extraction("none", None)


def final_number(text: str) -> Value | None:
    """The one number ``text`` commits to, or None (no number, or hedging); rule in the docstring."""
    reading = extract(text)
    if reading.answer is None:
        return None
    if "/" in reading.answer:
        numerator, denominator = reading.answer.split("/")
        return Fraction(int(numerator), int(denominator))
    return Decimal(reading.answer)


def gold_number(ground_truth: str) -> Decimal | None:
    """The gold value: the number after the last ``####``, else the whole string as one number, else the one
    number a worked solution commits to with an answer marker (the completion rule)."""
    if "####" in ground_truth:
        value, _, _ = _segment_value(ground_truth.rsplit("####", 1)[1].strip())
        return value
    value = parse_number(ground_truth)
    if value is None and _ANSWER_IS.search(ground_truth):
        return final_number(ground_truth)  # a worked solution that states its answer ("the answer is: 180")
    return value


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
