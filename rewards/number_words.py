"""English number words and magnitude words as digits, for the GSM8K verifier.

Why hand-written: the maintained word-to-number packages (``word2number``, ``text2num``) parse one phrase that
is already isolated, raise on anything else, and are not installed here; the verifier must find the phrases in
free text, never raise, and stay linear.

Rules of :func:`spell_out`:

- A run of number words is one number: units and teens (``zero`` ... ``nineteen``), tens (``twenty`` ...
  ``ninety``, with an optional hyphenated unit: ``twenty-five``), ``hundred``, ``thousand``, ``million``,
  ``billion``, ``trillion``, with ``and`` allowed inside (``one hundred and five`` -> 105), ``a`` as one before a
  scale word (``a hundred`` -> 100) and ``a dozen`` / ``dozen`` as 12. ``twelve`` -> 12, ``three thousand two
  hundred`` -> 3200.
- A digit number followed by a magnitude word is their product, exactly (``1.5 million`` -> 1500000,
  ``2.4 billion`` -> 2400000000, ``3 thousand`` -> 3000).
- With ``keep_pronoun_one`` a lone ``one`` stays a word ("each one", "no one"): outside an answer sentence it is
  a pronoun far more often than a number.
The replacement keeps the rest of the text as it was. Single regex passes, linear in the text.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "dozen": 12,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_RUN = re.compile(
    rf"(?<![\w-])(?:a\s+(?:dozen|hundred|thousand|million|billion)|(?:{_WORD}))(?:(?:\s+and\s+|\s+|-)(?:{_WORD}))*(?![\w-])",
    re.IGNORECASE,
)
_MAGNITUDE = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})*(?:\.\d+)?|\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion)\b", re.IGNORECASE
)


def words_value(phrase: str) -> int | None:
    """The value of one run of number words, or None when it does not read as one number."""
    tokens = [t for t in re.split(r"[\s-]+", phrase.lower()) if t and t != "and"]
    if tokens[:1] == ["a"]:
        tokens = (["dozen"] if tokens[1:2] == ["dozen"] else ["one", *tokens[1:2]]) + tokens[2:]
    total, current, last = 0, 0, None
    for token in tokens:
        if token in _UNITS:
            if last in ("unit", "teen") or (last == "tens" and _UNITS[token] >= 10):
                return None  # "five six" or "twenty twelve" are two numbers, not one
            current += _UNITS[token]
            last = "teen" if _UNITS[token] >= 10 else "unit"
        elif token in _TENS:
            if last in ("unit", "teen", "tens"):
                return None
            current += _TENS[token]
            last = "tens"
        elif token == "hundred":
            if current == 0 or current >= 100:
                return None
            current *= 100
            last = "hundred"
        elif token in _SCALES:
            if current == 0:
                return None
            total += current * _SCALES[token]
            current, last = 0, "scale"
        else:
            return None
    return total + current


def _magnitude(match: re.Match) -> str:
    try:
        value = Decimal(match.group(1).replace(",", "")) * _SCALES[match.group(2).lower()]
    except InvalidOperation:
        return match.group(0)
    return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")


def spell_out(text: str, keep_pronoun_one: bool = False) -> str:
    """``text`` with number-word runs and magnitude words written in digits (rules in the module docstring)."""
    lowered = text.lower()
    if any(scale in lowered for scale in ("thousand", "million", "billion", "trillion")):
        text = _MAGNITUDE.sub(_magnitude, text)

    def replace(match: re.Match) -> str:
        phrase = match.group(0)
        if keep_pronoun_one and phrase.lower() == "one":
            return phrase
        value = words_value(phrase)
        return phrase if value is None else str(value)

    return _RUN.sub(replace, text)
