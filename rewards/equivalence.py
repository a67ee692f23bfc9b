"""In-process equivalence of two MATH answers (the fast path of :mod:`rewards.math_flex`).

``quick_match(candidate, gold)`` returns True/False when it can decide, None when only the symbolic check
(math-verify in a worker) can. Rules, cheapest first, each with its reason:

- Mixed numbers: an integer written directly before a proper fraction of integer literals
  (``137 \\frac{1}{2}``, ``-3\\frac{1}{4}``, and the shorthands ``2 1/2`` and ``2\\frac12``) is their sum, as MATH
  writes mixed numbers (14 golds of the
  5,000-problem test set); read as a product it would accept 68.5 for 137.5. (:func:`mixed_numbers`)
- Units: a unit on one side only is a wrapper (``24 \\text{ cm}^2`` = ``24``), but two named units must be
  the same (``cm^3`` is not ``cm^2``; ``square cm`` = ``cm^2``), see :func:`rewards.normalize.unit_of`.
- Equal Hendrycks-normalized strings (:func:`rewards.normalize.hendrycks`: spacing, ``\\text{}`` wrappers,
  units, degrees, dollars, percent, choice labels, empty-set and matrix notations) are equal.
- A decimal number against an irrational constant (``1.41421356237`` against ``\\sqrt{2}``) is wrong: MATH
  asks for the exact value.
- Exact numbers (integers, decimals, ``\\frac{a}{b}``, ``a/b``, repeating decimals ``0.\\overline{3}``) compare
  as Fractions, decisively (no tolerance: ``\\frac{1}{2^{98}}`` is not ``\\frac{1}{2^{99}}``).
- Lists: "or"/"and" between values (``x = 2 \\text{ or } x = -3``, ``1 \\text{ and } 4``, "either 3 or 4") and
  top-level commas make an unordered list; each element loses a short ``x =`` and a ``\\pm`` element is its two
  values (``x = \\pm 3`` is ``3, -3``). A list matches a list of the same size when its elements pair up one
  to one (any order: roots, select-all letters ``\\text{C, A}`` = ``\\text{A, C}``); a list never matches a single
  value, so offering two answers where one is asked (a hedge) scores 0, and ``5125`` is not ``5, 125``.
  Thousands separators are read only when the gold is not a list. Tuples and intervals stay ordered.
- Notations of one object: ``\\emptyset`` only equals the empty set; unions (``\\cup``) compare piece by piece
  in order; an interval or tuple against one with other end brackets is different (``(3, 4]`` is not
  ``[3, 4)``); infinity is never a finite number.
- An equation matches an equation with the same two sides in either order (``y = 2x+1`` = ``2x+1 = y``), or
  whose ``lhs - rhs`` is a nonzero constant multiple of the other's at every test point (``2x + 2y = 4`` =
  ``x + y - 2 = 0``); a changing ratio proves them different (``5x - 7y + 11z + 4 = 1`` is not ``... = 0``).
- Words: a word answer against a word compares case-insensitively; numerals in a base (``52_8``) compare
  digits and base; prose (a word of three letters or more) against a formula is wrong.
- The numeric fingerprint of :mod:`rewards.numeric` (exact rationals, relative float tolerance) proves
  two answers different, or two constants equal.
"""

from __future__ import annotations

import re
from fractions import Fraction

from rewards.normalize import hendrycks, unit_of
from rewards.numeric import fingerprint_differs, irrational_constant, proportional, top_level_split
from rewards.symbolic import symbolic_allowed

MAX_LIST = 32
_MIXED = re.compile(
    r"(?<![\w.^_}{\\])(-?)(\d{1,6})\s*\\[dt]?frac\s*\{\s*(\d{1,6})\s*\}\s*\{\s*(\d{1,6})\s*\}(?![\w^{(])"
)
_MIXED_SLASH = re.compile(r"(?<![\w.^_}{\\/])(-?)(\d{1,6})\s+(\d{1,6})\s*/\s*(\d{1,6})(?![\w^{(/.])")
_MIXED_SHORT = re.compile(r"(?<![\w.^_}{\\])(-?)(\d{1,6})\s*\\[dt]?frac\s*(\d)\s*(\d)(?![\w^{(])")
_EXACT = re.compile(
    r"^([-+]?)(?:(\d+(?:\.\d+)?|\.\d+)|\\frac\{(-?\d+)\}\{(-?\d+)\}|(\d+)/(\d+)"
    r"|(\d*)\.(\d*)\\overline\{(\d+)\})$"
)
_CONNECTIVE = re.compile(
    r"\s*(?:\\(?:text|mbox|textrm|mathrm)\s*\{\s*(?:or|and)\s*\}|(?<![a-zA-Z\\])(?:or|and)"
    r"(?![a-zA-Z]))\s*"
)
_EITHER = re.compile(r"(?<![a-zA-Z\\])(?:either|both)(?![a-zA-Z])\s*|\\text\{\s*(?:either|both)\s*\}")
_ZERO_DENOMINATOR = re.compile(r"^-?(?:\\frac\{-?\d+\}\{-?0+\}|\d+/0+)$")
_WORD = re.compile(r"^[A-Za-z][A-Za-z ]*$")
_WORDY = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_BASE = re.compile(r"^(-?[0-9A-Za-z.]+)_\{?(\d+)\}?$")
_LHS = re.compile(r"^\s*[a-zA-Z](?:_\{?\w\}?)?\s*=(?!=)")


def mixed_numbers(text: str) -> str:
    """``137 \\frac{1}{2}`` -> ``(137+\\frac{1}{2})`` where the fraction is proper (rule in the docstring)."""
    if "/" in text:
        text = _MIXED_SLASH.sub(lambda m: _mixed(*m.groups()) or m.group(0), text)
    if "frac" not in text:
        return text
    text = _MIXED_SHORT.sub(lambda m: _mixed(*m.groups()) or m.group(0), text)

    def rewrite(m: re.Match) -> str:
        sign, whole, num, den = m.groups()
        if not 0 < int(num) < int(den):
            return m.group(0)
        return f"{sign}({whole}+\\frac{{{num}}}{{{den}}})"

    return _MIXED.sub(rewrite, text)


def _mixed(sign: str, whole: str, num: str, den: str) -> str | None:
    """A mixed number as a sum, or None when the fraction is not proper (then it is not a mixed number)."""
    return f"{sign}({whole}+\\frac{{{num}}}{{{den}}})" if 0 < int(num) < int(den) else None


def exact(normalized: str) -> Fraction | None:
    """The exact value of a normalized number, fraction or repeating decimal, else None."""
    match = _EXACT.match(normalized)
    if match is None:
        return None
    sign, number, num, den, snum, sden, rint, rfrac, rrep = match.groups()
    try:
        if number is not None:
            value = Fraction(number)
        elif num is not None:
            value = Fraction(int(num), int(den))
        elif snum is not None:
            value = Fraction(int(snum), int(sden))
        else:
            head = Fraction(f"{rint or 0}.{rfrac}") if rfrac else Fraction(int(rint or 0))
            value = head + Fraction(int(rrep), (10 ** len(rrep) - 1) * 10 ** len(rfrac))
    except (ZeroDivisionError, ValueError):
        return None
    return -value if sign == "-" else value


def listify(raw: str, thousands: bool) -> list[str] | None:
    """The normalized elements of an unordered answer list, or None when ``raw`` is one value."""
    s = _EITHER.sub("", raw)
    s = _CONNECTIVE.sub(",", s).strip().strip(",")
    s = hendrycks(s, thousands=thousands)
    if s.startswith("\\{") and s.endswith("\\}"):
        s = s[2:-2]
    elif s[:1] in "([" and s[-1:] in ")]" or "," not in s and "\\pm" not in s:
        return None
    elements: list[str] = []
    for part in top_level_split(s, (",",), strict=False):
        part = _LHS.sub("", part).strip()
        if not part:
            continue
        if part.count("\\pm") == 1:
            elements += [part.replace("\\pm", "+").lstrip("+"), part.replace("\\pm", "-")]
        else:
            elements.append(part)
        if len(elements) > MAX_LIST:
            return None
    return elements if len(elements) > 1 else None


def _intervalish(s: str) -> bool:
    return len(s) > 2 and s[0] in "([" and s[-1] in ")]" and "," in s


def _one(c: str, g: str) -> bool | None:
    """Decision for two normalized single values (no list rule)."""
    if c == g:
        return True
    if not c or not g:
        return False
    if (c == "\\emptyset") != (g == "\\emptyset"):
        return False  # the empty set is only the empty set
    if "\\cup" in c or "\\cup" in g:
        cp, gp = top_level_split(c, ("\\cup",), strict=False), top_level_split(g, ("\\cup",), strict=False)
        if len(cp) != len(gp):
            return None
        verdicts = [_one(x, y) for x, y in zip(cp, gp, strict=True)] if len(cp) > 1 else [None]
        return False if False in verdicts else (True if all(v is True for v in verdicts) else None)
    if _intervalish(c) and _intervalish(g) and (c[0], c[-1]) != (g[0], g[-1]):
        return False  # open/closed ends differ, or a tuple against an interval
    if ("\\infty" in c) != ("\\infty" in g) and not any(ch.isalpha() for ch in (c + g).replace("\\infty", "")):
        return False  # infinity against a finite number
    ce, ge = exact(c), exact(g)
    if ce is not None and ge is not None:
        return ce == ge
    if (ce is None) != (ge is None) and _ZERO_DENOMINATOR.match(c if ce is None else g):
        return False  # a fraction over zero is undefined, never a number
    if _WORD.match(g) and _WORD.match(c):
        return g.replace(" ", "").lower() == c.replace(" ", "").lower()
    cb, gb = _BASE.match(c), _BASE.match(g)
    if cb and gb:  # numerals in a base: digits and base must both match
        return cb.groups() == gb.groups()
    if ge is not None and not any(ch.isdigit() or ch == "\\" for ch in c):
        return False
    if ce is not None and "." in c and irrational_constant(g):
        return False  # a decimal approximation is not the exact irrational answer
    if _WORDY.search(c) and not _WORDY.search(g):  # prose against a formula
        return False
    if c.count("=") == 1 and g.count("=") == 1 and not any(ch in c + g for ch in "<>"):
        (cl, cr), (gl, gr) = c.split("="), g.split("=")
        if (cl, cr) == (gl, gr) or (cl, cr) == (gr, gl):
            return True
        if all((cl, cr, gl, gr)) and symbolic_allowed(c) and symbolic_allowed(g):
            same = proportional(f"{cl}-({cr})", f"{gl}-({gr})")
            if same is not None:
                return same
    if symbolic_allowed(c) and symbolic_allowed(g):
        differs = fingerprint_differs(c, g)
        if differs is not None:
            return not differs
    return None


def _match_lists(cl: list[str], gl: list[str]) -> bool | None:
    if len(cl) != len(gl):
        return False
    remaining = list(gl)
    undecided = False
    for element in cl:
        verdicts = [_one(element, g) for g in remaining]
        if True in verdicts:
            remaining.pop(verdicts.index(True))
        elif None in verdicts:
            undecided = True
            remaining.pop(verdicts.index(None))
        else:
            return False
    return None if undecided else True


def quick_match(candidate: str, gold: str) -> bool | None:
    """True/False when decided in-process, None when the symbolic check must decide (rules in the docstring)."""
    candidate, gold = mixed_numbers(candidate), mixed_numbers(gold)
    cu, gu = unit_of(candidate), unit_of(gold)
    if cu is not None and gu is not None and cu != gu:
        return False  # both name a unit, and not the same one
    gl = listify(gold, thousands=True)
    cl = listify(candidate, thousands=gl is None)
    if gl is not None or cl is not None:
        if gl is None or cl is None:
            return False  # a list against one value
        return _match_lists(cl, gl)
    return _one(hendrycks(candidate), hendrycks(gold))
