"""String normalization of MATH answers (Hendrycks-style), plus the Minerva final-answer cleanup.

Why hand-written: the Hendrycks ``strip_string`` rules are not published as a maintained package
(math-verify normalizes for sympy parsing, not for string equality), so this is our own rendering of
the rules listed in the recipe doc, section 6.2.

:func:`hendrycks` rule, applied in order:
0. common unicode math symbols become their TeX commands (``π`` -> ``\\pi``, ``−`` -> ``-``, ``√``, ``∞``, ...);
1. drop line breaks, ``\\!``, ``\\,``, ``\\;``, ``\\:``, ``\\ ``, ``~``, ``\\quad``, ``\\qquad``, ``\\hspace{..}``,
   ``\\left``/``\\right``, ``\\displaystyle`` (spacing only); ``\\dfrac``/``\\tfrac`` become ``\\frac``; every
   empty-set notation (``\\varnothing``, ``\\{\\}``, ``\\O``, ``∅``) becomes ``\\emptyset``; an ``array``
   environment in round or square brackets and ``bmatrix``/``matrix`` become ``pmatrix`` (one matrix, several
   notations); ``\\\\`` becomes ``\\`` outside matrices;
2. degrees (``^\\circ``, ``^{\\circ}``, ``°``), dollars (``\\$``, ``$``) and percent (``\\%``, ``%``) are noise;
3. a trailing unit after a value is cut: ``\\text{ ...}`` starting with a space, or any digit-free ``\\text{..}``,
   ``\\mbox{..}``, ``\\mathrm{..}`` word after a digit, optionally squared/cubed (``5\\text{ cm}^2``), and bare unit
   words after a digit (``24 square units``, ``8 cm^3``); then ``\\text{X}``, ``\\textbf{X}``, ``\\mbox{X}``,
   ``\\mathrm{X}`` become ``X`` (so a number inside ``\\text{}`` is the number) and a choice label ``(C)`` becomes
   ``C`` (choices are written ``C``, ``(C)``, ``\\textbf{(C)}``, ``\\text{C}``);
4. a leading ``v =`` with a left side of at most two characters is dropped (``x=5`` -> ``5``), and so is a
   trailing ``= v`` naming one letter (``2x+3 = y`` -> ``2x+3``: the same equation written the other way round);
5. a whole answer like ``1,000`` (comma groups of three, no space) loses its thousands commas, unless
   ``thousands=False`` (used when the gold is a list, where ``5,125`` reads as two numbers); a comma followed by
   a space is always a list separator, so ``5, 125`` stays a list; then spaces are removed; ``\\sqrt3`` ->
   ``\\sqrt{3}``, ``\\frac12`` -> ``\\frac{1}{2}``, ``a/b`` of two integers -> ``\\frac{a}{b}``, ``0.5`` ->
   ``\\frac{1}{2}``, ``.5`` -> ``0.5``; a trailing ``.`` is dropped.
Every step is a regex without nested quantifiers or a single scan, so the cost is linear.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rewards.unicode_math import unicode_to_tex

UNICODE_TO_TEX = str.maketrans(
    {
        "\u2212": "-",
        "\u2013": "-",
        "\u00d7": "\\times ",
        "\u00b7": "\\cdot ",
        "\u03c0": "\\pi ",
        "\u221e": "\\infty ",
        "\u221a": "\\sqrt",
        "\u00bd": "\\frac{1}{2}",
        "\u2264": "\\le ",
        "\u2265": "\\ge ",
        "\u00b0": "^\\circ",
    }
)
_SPACING = re.compile(
    r"(?<!\\)\\[!,;:> ]|\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])|\\displaystyle|\\q?quad(?![a-zA-Z])|~"
    r"|\\hspace\*?\{[^{}]{0,20}\}"
)
_EMPTY_SET = re.compile(r"\\varnothing|\\O(?![a-zA-Z])|\\\{\s*\\\}|\u2205")
_ARRAY = re.compile(r"([(\[])\s*\\begin\{array\}\{[^{}]*\}(.*?)\\end\{array\}\s*[)\]]", re.DOTALL)
_MATRIX_KIND = re.compile(r"\\(begin|end)\{[bB]?matrix\}")
_UNIT_AFTER_VALUE = re.compile(
    r"(?:(?<=[\d}])|(?<=\\pi))\s*\\(?:text|mbox|mathrm|textrm)\{\s*[A-Za-z][A-Za-z ./-]*\}"
    r"(?:\^\s*\{?\s*[23]\s*\}?)?\s*$"
)
_NUMBER_IN_TEXT = re.compile(r"\\(text|mbox|textrm|mathrm)\{\s*(-?\d[\d,]*(?:\.\d+)?)\s+([A-Za-z][^{}]*)\}")
_UNIT_WORD = re.compile(
    r"(?:(?<=\d)|(?<=\\pi))\s*(?:(?:square|sq\.?|cubic)\s*)?(?:units?|cm|mm|km|meters?|metres?|inches|feet|ft|miles?|yards?|"
    r"degrees?|dollars?|cents?|hours?|minutes?|seconds?|days?|weeks?|years?)(?:\s*\^\s*\{?[23]\}?|[\u00b2\u00b3])?\s*$"
)
_CHOICE = re.compile(r"^\(([A-Z])\)$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_UNIT_TEXT = re.compile(r"\\(?:text|mbox)\{\s[^{}]*\}\s*$")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textrm|mbox|mathrm|mathbf|textit)\s*\{([^{}]*)\}")
_SQRT_SHORT = re.compile(r"\\sqrt\s*([^\s{\\])")
_FRAC_SHORT = re.compile(r"\\frac\s*([^\s{\\])\s*([^\s{\\])")
_FRAC_HALF = re.compile(r"\\frac\s*\{([^{}]*)\}\s*([^\s{\\])")
_FRAC_FIRST = re.compile(r"\\frac([^\s{\\])\{")
_SLASH_FRAC = re.compile(r"^(-?\d+)/(\d+)$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_THOUSANDS_TEX = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
_SHORT_LHS = re.compile(r"^[^=]{1,2}=(?!=)")
_SHORT_RHS = re.compile(r"(?<![<>!=])=\s*[a-zA-Z]\s*$")
_LETTER = re.compile(r"[a-zA-Z]")


def split_text_number(answer: str) -> str:
    """A number and its unit inside one ``\\text{}`` as a number then a unit (``\\text{5 cm}`` ->
    ``5\\text{ cm}``), so the unit rules below apply to it."""
    return _NUMBER_IN_TEXT.sub(r"\2\\\1{ \3}", answer) if "{" in answer else answer


def _cut_tail(pattern: re.Pattern, s: str) -> str:
    """``s`` without a match of an end-anchored ``pattern`` found in its last 120 characters (bounded cost)."""
    head, tail = s[:-120], s[-120:]
    return head + pattern.sub("", tail) if pattern.search(tail) else s


def hendrycks(answer: str, thousands: bool = True) -> str:
    """Normalize a MATH answer string for equality comparison (rule in the module docstring)."""
    if len(answer) <= 2000:
        return _hendrycks_cached(answer, thousands)
    return _hendrycks(answer, thousands)


@lru_cache(maxsize=16384)
def _hendrycks_cached(answer: str, thousands: bool) -> str:
    return _hendrycks(answer, thousands)


def _hendrycks(answer: str, thousands: bool) -> str:
    s = split_text_number(answer.replace("\n", "").replace("\r", ""))
    if not s.isascii():
        s = unicode_to_tex(s)
    s = _SPACING.sub("", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    if "\\O" in s or "\\{" in s or "\\var" in s or "\\emptyset" in s:
        s = _EMPTY_SET.sub("\\\\emptyset", s)
    if "\\begin" in s:
        s = _ARRAY.sub(lambda m: "\\begin{pmatrix}" + m.group(2) + "\\end{pmatrix}", s)
        s = _MATRIX_KIND.sub(lambda m: "\\" + m.group(1) + "{pmatrix}", s)
    if "matrix" not in s:
        s = s.replace("\\\\", "\\")
    s = _DEGREES.sub("", s)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    s = s.rstrip().rstrip(".,;").rstrip()  # a box holding "12 cm." ends a sentence: the stop is no part of it
    s = _UNIT_TEXT.sub("", s) if not _UNIT_TEXT.fullmatch(s.strip()) else s
    s = _cut_tail(_UNIT_WORD, _cut_tail(_UNIT_AFTER_VALUE, s))
    for _ in range(3):  # nested wrappers like \textbf{\text{x}}
        s, count = _TEXT_WRAP.subn(r"\1", s)
        if not count:
            break
    s = s.strip()
    if s.count("=") == 1 and _SHORT_RHS.search(s) and not _LETTER.search(s.split("=", 1)[0]):
        s = s.split("=", 1)[0]  # "5 = x": the value is on the left
    elif _SHORT_LHS.match(s) and s.count("=") == 1:
        s = s.split("=", 1)[1]
    elif _SHORT_RHS.search(s) and s.count("=") == 1:
        s = s.split("=", 1)[0]
    s = s.strip()
    s = _THOUSANDS_TEX.sub(",", s)
    if thousands and _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = s.replace(" ", "")
    choice = _CHOICE.match(s)
    if choice:
        s = choice.group(1)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_FIRST.sub(r"\\frac{\1}{", s)
    s = s.rstrip(".")
    if s.startswith("."):
        s = "0" + s
    s = s.replace("{.", "{0.")
    if s == "0.5":
        s = "\\frac{1}{2}"
    slash = _SLASH_FRAC.match(s)
    if slash:
        s = f"\\frac{{{slash.group(1)}}}{{{slash.group(2)}}}"
    return s


_UNIT_CANON = (("inches", "inch"), ("feet", "foot"), ("\u00b2", "^2"), ("\u00b3", "^3"))
_UNIT_NAMES = {
    "centimeter": "cm",
    "centimetre": "cm",
    "millimeter": "mm",
    "millimetre": "mm",
    "meter": "m",
    "metre": "m",
    "kilometer": "km",
    "kilometre": "km",
    "ft": "foot",
    "in": "inch",
    "mi": "mile",
    "yd": "yard",
    "sec": "second",
    "min": "minute",
    "hr": "hour",
    "deg": "degree",
}
KNOWN_UNITS = frozenset(
    {
        "cm",
        "mm",
        "m",
        "km",
        "inch",
        "foot",
        "mile",
        "yard",
        "unit",
        "second",
        "minute",
        "hour",
        "day",
        "week",
        "year",
        "degree",
        "dollar",
        "cent",
    }
)


def unit_of(answer: str) -> str | None:
    """The trailing unit of an answer in canonical form (``"cm^2"`` for ``5\\text{ square cm}`` or
    ``5 cm^{2}``), or None. Two answers that both name a unit must name the same one (``cm^3`` is not ``cm^2``)."""
    s = split_text_number(answer.strip()[-120:]).rstrip().rstrip(".,;").rstrip()
    match = _UNIT_AFTER_VALUE.search(s) or _UNIT_WORD.search(s)
    if match is None:
        unit = _UNIT_TEXT.search(s)
        if unit is None or _UNIT_TEXT.fullmatch(s):
            return None
        match = unit
    unit = re.sub(r"\\[a-z]+\s*\{|[{}\s.]", "", match.group(0)).lower()
    for old, new in _UNIT_CANON:
        unit = unit.replace(old, new)
    for word, power in (("square", "^2"), ("sq", "^2"), ("cubic", "^3")):
        if unit.startswith(word) and len(unit) > len(word):
            unit = unit[len(word) :] + power
    base, _, power = unit.partition("^")
    base = base[:-1] if base.endswith("s") and len(base) > 2 else base
    base = _UNIT_NAMES.get(base, base)
    if base not in KNOWN_UNITS:
        return None  # only units we can name canonically are compared; anything else is a wrapper
    return base + ("^" + power if power else "")


_FINAL_LINE = re.compile(r"Final Answer: The final answer is (.{0,1000}?)\. I hope it is correct", re.DOTALL)
_DOLLAR_PAIR = re.compile(r"\$([^$]*)\$")
_UNIT_WORDS = re.compile(
    r"\s*(?:\\text\{\s*)?\b(?:units?|square|sq|dollars?|cents?|degrees?|inches|inch|feet|foot|ft|meters?|cm|km|mph|"
    r"hours?|minutes?|seconds?|days?|ways|points?|digits?|pounds?|students?|people)\b\}?(?:\s*\^\s*\{?[23]\}?)?",
)
_LIST_WORD = re.compile(r"(?<![a-zA-Z])(?:or|and)(?![a-zA-Z])|,")
_SHORT_NAME = re.compile(r"^\s*[a-zA-Z](?:_\{?\w{1,2}\}?|\(\w\))?\s*$")


def after_equals(s: str) -> str:
    """The value side of an ``=`` answer: ``x = 5`` -> ``5``, ``x = 5 - 3 = 2`` -> ``2``; an equation whose
    left side is not a name (``2x + 3 = y``) and a list of equations (``x = 2 or x = -3``) stay whole."""
    if "=" not in s:
        return s
    parts = s.split("=")
    if len(parts) == 2:
        return (
            parts[1]
            if _SHORT_NAME.match(parts[0])
            or not _SHORT_NAME.match(parts[1])
            and not any(c.isalpha() for c in parts[0].replace("\\", ""))
            else s
        )
    return s if _LIST_WORD.search(s) else parts[-1]


def minerva_candidates(text: str) -> list[str]:
    """Every X in "Final Answer: The final answer is X. I hope it is correct." in order."""
    return [m.group(1) for m in _FINAL_LINE.finditer(text)]


def minerva(answer: str) -> str:
    """Minerva-style cleanup of a final answer: keep the value side of an ``=`` (:func:`after_equals`; Minerva
    keeps what follows the last ``=``, which turns ``2x + 3 = y`` into ``y``), unwrap ``$..$``,
    ``\\text{}``/``\\textbf{}``/``\\boxed{}`` (not ``\\overline{}``: ``0.\\overline{3}`` is a repeating decimal),
    drop unit words (squared or cubed too), ``\\ldots``, quotes and number commas. The result still goes through
    :func:`hendrycks` before comparison."""
    s = after_equals(answer).strip()
    inner = _DOLLAR_PAIR.search(s)
    if inner:
        s = inner.group(1)
    s = re.sub(r"\\(?:text|textbf|boxed|mbox)\s*\{([^{}]*)\}", r"\1", s)
    s = _UNIT_WORDS.sub("", s)
    s = s.replace("\\ldots", "").replace("\\dots", "").replace('"', "").replace("$", "").strip()
    if re.fullmatch(r"-?[\d,]+(?:\.\d+)?", s):
        s = s.replace(",", "")
    return s.strip()
