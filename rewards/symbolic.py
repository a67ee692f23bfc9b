"""Symbolic equivalence of two LaTeX answers, meant to run inside a time-limited worker.

Rule: ``equivalent(candidate, gold)`` is True when math-verify, given both strings as LaTeX (each
wrapped in ``\\boxed{}`` and parsed with its LaTeX grammar only), judges them equal: numbers up to
exact/rounded equality, expressions by ``simplify(a - b) == 0``-style checks, comma lists and ``\\{..\\}``
as unordered sets, ``(a, b)``/``[a, b)`` as ordered tuples/intervals. Parsing goes through
latex2sympy2_extended's ANTLR grammar; math-verify's Python-expression extractor is never enabled, so
no model text is ever handed to a Python-syntax parser. math-verify's SIGALRM timeouts are switched
off here: the caller (``rewards.worker_pool``) enforces a hard per-item limit by killing the worker.

:func:`symbolic_allowed` is the cheap gate run before any parse, one linear scan each: candidates longer than
:data:`MAX_SYMBOLIC_CHARS`, brackets of any kind (``(``, ``[``, ``{``, so ``\\left(`` too) nested deeper than
:data:`MAX_BRACE_DEPTH`, factorial chains (``9!!``, ``5!!!!!!``: sympy would compute the tower of factorials),
a factorial in an exponent (``9^{67!}``, ``9^67!``),
a factorial of anything but a literal of at most three digits or a bracket without powers, products,
factorials and big literals (``(10^{100})!``, ``(100!)!``, ``(931\\cdot370)!``), more than 12 ``|`` bars,
binomials whose arguments hold a power, a product, a factorial or a literal over four digits
(``\\binom{10^9}{10^5}``), exponent towers
(``9^{9^{9}}``, ``9^9^9``), unbalanced braces, characters that never occur in a math answer
(``# @ ? ; " ' ` ``, an unescaped ``$``, ``&`` outside matrices), malformed text (unpaired brackets, odd ``|``, a
leading/trailing operator), exponents over four digits, factorials of numbers over three digits,
digit runs over :data:`MAX_DIGITS`, non-ASCII text (after the unicode-to-TeX mapping of
normalization), or TeX file/shell primitives are refused (scored as not equal).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

MAX_SYMBOLIC_CHARS = 1000
MAX_BRACE_DEPTH = 12
MAX_DIGITS = 40
_BIG_FACTORIAL = re.compile(r"(?<!\d)\d{4,}\s*\}?\s*!|\\(?:Gamma|factorial)|!\s*!|\^\s*\d+\s*!|\^\s*\{[^{}]{0,200}!")
_BINOM = re.compile(r"\\[dt]?binom|\\choose|\\binom")
_BIG_ARGUMENT = re.compile(r"\^|!|(?<!\d)\d{5,}|\*|\\(?:binom|dbinom|tbinom|choose|Gamma|cdot|times)")
MAX_BARS = 12
_BIG_EXPONENT = re.compile(r"\^\s*\{?\s*[-+]?\d{5,}")
_LONG_DIGITS = re.compile(r"\d{" + str(MAX_DIGITS + 1) + ",}")
_NOT_MATH = re.compile(r"[#@?;\"'`]|(?<!\\)\$")
_DANGEROUS = re.compile(r"\\(?:input|include|write|immediate|openout|read|catcode|def|csname|usepackage)\b|__")


def _exponent_end(text: str, caret: int) -> int:
    """Index just past the exponent that follows the ``^`` at ``caret``."""
    i = caret + 1
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return i
    if text[i] == "{":
        depth = 0
        for j in range(i, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    return j + 1
        return len(text)
    if text[i] == "\\":
        match = re.match(r"\\[a-zA-Z]+", text[i:])
        return i + (match.end() if match else 2)
    return i + 1


def has_power_tower(text: str) -> bool:
    """True when an exponent itself contains ``^`` or is directly followed by another ``^``."""
    for caret in (i for i, ch in enumerate(text) if ch == "^"):
        end = _exponent_end(text, caret)
        if "^" in text[caret + 1 : end]:
            return True
        rest = text[end : end + 3].lstrip()
        if rest.startswith("^"):
            return True
    return False


def _malformed(text: str) -> bool:
    """Not a well-formed answer: brackets that do not pair up (``(3,4]`` pairs), an odd number of
    ``|``, or an expression that starts or ends with a binary operator or ``!``."""
    bare = text.replace("\\{", "").replace("\\}", "").replace("\\|", "").strip()
    depth = 0
    for ch in bare:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                return True
    if depth != 0 or bare.count("|") % 2:
        return True
    return bare[:1] in ("!", "*", "/", "^", "=", "_", ",") or bare[-1:] in ("+", "-", "*", "/", "^", "=", "_", ",")


def _group_before(text: str, close: int) -> str | None:
    """Content of the bracket group that ends at ``close``, or None when it does not open."""
    pairs = {")": "(", "]": "[", "}": "{"}
    closer, opener = text[close], pairs[text[close]]
    depth = 0
    for i in range(close, -1, -1):
        if text[i] == closer:
            depth += 1
        elif text[i] == opener:
            depth -= 1
            if depth == 0:
                return text[i + 1 : close]
    return None


def _huge_combinatorics(text: str) -> bool:
    """A factorial of a bracket holding a power, factorial or big literal; or such a binomial argument."""
    for bang in (i for i, ch in enumerate(text) if ch == "!"):
        j = bang - 1
        while j >= 0 and text[j] == " ":
            j -= 1
        if j >= 0 and text[j] in ")]}":
            if text[j] == "}" and j > 0 and text[j - 1] == "\\":
                return True
            inner = _group_before(text, j)
            if inner is None or _BIG_ARGUMENT.search(inner) or "\\frac" in inner:
                return True
    for match in _BINOM.finditer(text):
        if match.group(0) == "\\choose":
            arguments = [text[max(0, match.start() - 200) : match.end() + 200]]
        else:
            arguments, i = [], match.end()
            for _ in range(2):
                while i < len(text) and text[i] == " ":
                    i += 1
                if i >= len(text) or text[i] != "{":
                    break
                end = _exponent_end(text, i - 1)
                arguments.append(text[i:end])
                i = end
        if any(_BIG_ARGUMENT.search(a.replace("\\choose", "")) for a in arguments):
            return True
    return False


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in ")]}":
            depth -= 1
    return deepest


def symbolic_allowed(text: str) -> bool:
    """Whether ``text`` is small and tame enough to hand to the symbolic parser (rule above)."""
    if not text or len(text) > MAX_SYMBOLIC_CHARS or not text.isascii() or not text.isprintable():
        return False
    depth = deepest = 0
    for ch in text:
        if ch == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    if depth != 0 or deepest > MAX_BRACE_DEPTH or _nesting_depth(text) > MAX_BRACE_DEPTH or text.count("|") > MAX_BARS:
        return False
    if _NOT_MATH.search(text) or ("&" in text and "matrix" not in text) or _malformed(text):
        return False
    if _DANGEROUS.search(text) or _BIG_FACTORIAL.search(text.replace("\\!", "")) or _BIG_EXPONENT.search(text):
        return False
    if _LONG_DIGITS.search(text):
        return False
    if ("!" in text or "binom" in text or "choose" in text) and _huge_combinatorics(text.replace("\\!", "")):
        return False
    return text.count("^") <= 1 or not has_power_tower(text)


@lru_cache(maxsize=8192)
def _parse(latex: str) -> tuple:
    from math_verify import LatexExtractionConfig, parse

    config = [LatexExtractionConfig(boxed_match_priority=0)]
    return tuple(parse("\\boxed{" + latex + "}", extraction_config=config, parsing_timeout=None))


def equivalent(candidate: str, gold: str) -> bool:
    """Whether ``candidate`` and ``gold`` are the same mathematical object (rule in the docstring)."""
    if not (symbolic_allowed(candidate) and symbolic_allowed(gold)):
        return False
    from math_verify import verify

    gold_parsed, cand_parsed = _parse(gold), _parse(candidate)
    if not gold_parsed or not cand_parsed:
        return False
    return bool(verify(list(gold_parsed), list(cand_parsed), timeout_seconds=None, raise_on_error=False))


def worker_warmup() -> None:
    """Run one comparison so that the first real item does not pay for sympy's lazy set-up."""
    equivalent("\\frac{x^2-1}{x-1}", "x+1")
    _parse.cache_clear()


def _quiet() -> None:
    """math-verify logs a warning per unparsable answer and per disabled timeout; silence it."""
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


_quiet()
