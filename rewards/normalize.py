"""String normalization of MATH answers (Hendrycks-style), plus the Minerva final-answer cleanup.

Why hand-written: the Hendrycks ``strip_string`` rules are not published as a maintained package
(math-verify normalizes for sympy parsing, not for string equality), so this is our own rendering of
the rules listed in the recipe doc, section 6.2.

:func:`hendrycks` rule, applied in order:
0. common unicode math symbols become their TeX commands (``π`` -> ``\\pi``, ``−`` -> ``-``, ``√``, ``∞``, ...);
1. drop line breaks, ``\\!``, ``\\,``, ``\\;``, ``\\:``, ``\\ ``, ``\\left``/``\\right``, ``\\displaystyle``;
   ``\\dfrac``/``\\tfrac`` become ``\\frac``; ``\\\\`` becomes ``\\`` outside matrices;
2. degrees (``^\\circ``, ``^{\\circ}``, ``°``), dollars (``\\$``, ``$``) and percent (``\\%``, ``%``) are noise;
3. a trailing unit in ``\\text{ ...}`` (text starting with a space) is cut, then ``\\text{X}``, ``\\textbf{X}``,
   ``\\mbox{X}``, ``\\mathrm{X}`` become ``X``;
4. a leading ``v =`` with a left side of at most two characters is dropped (``x=5`` -> ``5``);
5. spaces are removed; ``\\sqrt3`` -> ``\\sqrt{3}``, ``\\frac12`` -> ``\\frac{1}{2}``, ``a/b`` of two integers ->
   ``\\frac{a}{b}``, ``0.5`` -> ``\\frac{1}{2}``, ``.5`` -> ``0.5``; a whole answer like ``1,000`` loses its
   thousands commas; a trailing ``.`` is dropped.
Every step is a regex without nested quantifiers or a single scan, so the cost is linear.
"""

from __future__ import annotations

import re

UNICODE_TO_TEX = str.maketrans({"\u2212": "-", "\u2013": "-", "\u00d7": "\\times ", "\u00b7": "\\cdot ",
                          "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u221a": "\\sqrt", "\u00bd": "\\frac{1}{2}",
                          "\u2264": "\\le ", "\u2265": "\\ge ", "\u00b0": "^\\circ"})
_SPACING = re.compile(r"(?<!\\)\\[!,;:> ]|\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])|\\displaystyle")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_UNIT_TEXT = re.compile(r"\\(?:text|mbox)\{\s[^{}]*\}\s*$")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textrm|mbox|mathrm|mathbf|textit)\s*\{([^{}]*)\}")
_SQRT_SHORT = re.compile(r"\\sqrt\s*([^\s{\\])")
_FRAC_SHORT = re.compile(r"\\frac\s*([^\s{\\])\s*([^\s{\\])")
_FRAC_HALF = re.compile(r"\\frac\s*\{([^{}]*)\}\s*([^\s{\\])")
_FRAC_FIRST = re.compile(r"\\frac([^\s{\\])\{")
_SLASH_FRAC = re.compile(r"^(-?\d+)/(\d+)$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_SHORT_LHS = re.compile(r"^[^=]{1,2}=(?!=)")


def hendrycks(answer: str) -> str:
    """Normalize a MATH answer string for equality comparison (rule in the module docstring)."""
    s = answer.replace("\n", "").replace("\r", "")
    if not s.isascii():
        s = s.translate(UNICODE_TO_TEX)
    s = _SPACING.sub("", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    if "matrix" not in s:
        s = s.replace("\\\\", "\\")
    s = _DEGREES.sub("", s)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    s = _UNIT_TEXT.sub("", s)
    for _ in range(3):  # nested wrappers like \textbf{\text{x}}
        s, count = _TEXT_WRAP.subn(r"\1", s)
        if not count:
            break
    s = s.strip()
    if _SHORT_LHS.match(s) and s.count("=") == 1:
        s = s.split("=", 1)[1]
    s = s.replace(" ", "")
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_FIRST.sub(r"\\frac{\1}{", s)
    s = s.rstrip(".")
    if s.startswith("."):
        s = "0" + s
    s = s.replace("{.", "{0.")
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    if s == "0.5":
        s = "\\frac{1}{2}"
    slash = _SLASH_FRAC.match(s)
    if slash:
        s = f"\\frac{{{slash.group(1)}}}{{{slash.group(2)}}}"
    return s


_FINAL_LINE = re.compile(r"Final Answer: The final answer is (.{0,1000}?)\. I hope it is correct", re.DOTALL)
_DOLLAR_PAIR = re.compile(r"\$([^$]*)\$")
_UNIT_WORDS = re.compile(
    r"\s*(?:\\text\{\s*)?\b(?:units?|square|sq|dollars?|cents?|degrees?|inches|inch|feet|foot|ft|meters?|cm|km|mph|"
    r"hours?|minutes?|seconds?|days?|ways|points?|digits?|pounds?|students?|people)\b\}?",
)


def minerva_candidates(text: str) -> list[str]:
    """Every X in "Final Answer: The final answer is X. I hope it is correct." in order."""
    return [m.group(1) for m in _FINAL_LINE.finditer(text)]


def minerva(answer: str) -> str:
    """Minerva-style cleanup of a final answer: keep what follows the last ``=``, unwrap ``$..$``,
    ``\\text{}``/``\\textbf{}``/``\\overline{}``/``\\boxed{}``, drop unit words, ``\\ldots``, quotes and number
    commas. The result still goes through :func:`hendrycks` before comparison."""
    s = answer.split("=")[-1].strip()
    inner = _DOLLAR_PAIR.search(s)
    if inner:
        s = inner.group(1)
    s = re.sub(r"\\(?:text|textbf|overline|boxed|mbox)\s*\{([^{}]*)\}", r"\1", s)
    s = _UNIT_WORDS.sub("", s)
    s = s.replace("\\ldots", "").replace("\\dots", "").replace('"', "").replace("$", "").strip()
    if re.fullmatch(r"-?[\d,]+(?:\.\d+)?", s):
        s = s.replace(",", "")
    return s.strip()
