"""Unicode math characters as TeX, so that ``x² − ¾`` compares like ``x^{2} - \\frac{3}{4}``.

Rule of :func:`unicode_to_tex` (only for non-ASCII text; one translate and one regex pass, linear):

- a run of superscript characters is one exponent: ``x²`` -> ``x^{2}``, ``2¹⁰`` -> ``2^{10}``, ``x⁻¹`` -> ``x^{-1}``;
- vulgar fractions become ``\\frac``: ``¾`` -> ``\\frac{3}{4}``, and a digit directly before one makes a mixed
  number (``2½`` -> ``2\\frac{1}{2}``, read as 2.5 by :func:`rewards.equivalence.mixed_numbers`);
- minus signs and dashes (``−``, ``–``, ``﹣``, ``－``) are ``-``; ``×`` is ``\\times``, ``·``/``⋅``/``∙`` are
  ``\\cdot``, ``÷`` is ``\\div``; ``π``, ``∞``, ``√``, ``∛``, ``≤``, ``≥``, ``≠``, ``∈``, ``∪``, ``∩``, ``°`` and
  ``∅`` become their TeX commands; subscript digits become ``_{..}``; a root's radicand (a bracket, a number, a
  letter) is braced: ``√12`` -> ``\\sqrt{12}``, ``√(x+1)`` -> ``\\sqrt{x+1}``; the fraction slash ``⁄`` is ``/``.
"""

from __future__ import annotations

import re

_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺"
_SUPER_PLAIN = "0123456789-+"
_SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉"
_SUPER_MAP = str.maketrans(_SUPERSCRIPTS, _SUPER_PLAIN)
_SUB_MAP = str.maketrans(_SUBSCRIPTS, "0123456789")
_SUPER_RUN = re.compile(f"[{_SUPERSCRIPTS}]+")
_SUB_RUN = re.compile(f"[{_SUBSCRIPTS}]+")
# the radicand of a unicode root: a bracket, a number or one letter ("√12" is the root of 12, never \sqrt{1}2)
_ROOT = re.compile(r"([\u221a\u221b])\s*(?:\(([^()]{1,80})\)|(\d+(?:\.\d+)?)|([A-Za-z]))")
_VULGAR = {
    "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5), "⅗": (3, 5),
    "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅐": (1, 7), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8), "⅞": (7, 8),
    "⅑": (1, 9), "⅒": (1, 10),
}  # fmt: skip
_TABLE = str.maketrans(
    {
        **{k: f"\\frac{{{n}}}{{{d}}}" for k, (n, d) in _VULGAR.items()},
        "\u2212": "-", "\u2013": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-", "\u00d7": "\\times ",
        "\u00b7": "\\cdot ", "\u22c5": "\\cdot ", "\u2219": "\\cdot ", "\u00f7": "\\div ", "\u03c0": "\\pi ",
        "\u221e": "\\infty ", "\u221a": "\\sqrt", "\u221b": "\\sqrt[3]", "\u2264": "\\le ", "\u2265": "\\ge ",
        "\u2260": "\\neq ", "\u2208": "\\in ", "\u222a": "\\cup ", "\u2229": "\\cap ", "\u00b0": "^\\circ",
        "\u2205": "\\emptyset ", "\u2044": "/", "\u2215": "/", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    }
)  # fmt: skip


def unicode_to_tex(text: str) -> str:
    """``text`` with unicode math characters written in TeX (rule in the module docstring)."""
    if text.isascii():
        return text
    if any(c in text for c in _SUPERSCRIPTS):
        text = _SUPER_RUN.sub(lambda m: "^{" + m.group(0).translate(_SUPER_MAP) + "}", text)
    if any(c in text for c in _SUBSCRIPTS):
        text = _SUB_RUN.sub(lambda m: "_{" + m.group(0).translate(_SUB_MAP) + "}", text)
    if "\u221a" in text or "\u221b" in text:
        text = _ROOT.sub(_root, text)
    return text.translate(_TABLE)


def _root(match: re.Match) -> str:
    command = "\\sqrt" if match.group(1) == "\u221a" else "\\sqrt[3]"
    return command + "{" + (match.group(2) or match.group(3) or match.group(4)) + "}"
