"""Fast numeric fingerprint of simple LaTeX answers, used to reject unequal answers in-process.

Why hand-written: the only maintained LaTeX-to-math parser (latex2sympy2_extended's ANTLR grammar,
used by math-verify) costs ~20 ms per answer in pure Python, too slow for the fast path, and
Python-syntax parsers must never see model text. This module reads a small LaTeX subset with a
recursive-descent parser that *computes values directly* (it builds no code and no expression
objects): numbers, ``+ - * / ^``, ``\\cdot``, ``\\times``, ``\\div``, implicit products, ``\\frac``,
``\\sqrt``/``\\sqrt[n]``, ``\\pi``, ``i``, ``e``, single-letter variables, small factorials, groups in
``() [] {}``, and ``\\sin \\cos \\tan \\ln \\log \\exp`` of a bracketed argument. Anything else makes the
reader give up (None), and the caller falls back to the symbolic check.

Rule of :func:`fingerprint_differs`: both strings are evaluated at three fixed assignments of their
variables (rational points). Rational arithmetic stays exact (``Fraction``); anything irrational
switches to complex floats. The answers are *different* when some value differs exactly (both
rational) or by more than ``1e-9`` relative (floats whose magnitudes stayed below 1e30, so rounding
cannot explain the gap). The tolerance is relative to the values themselves, so tiny values stay apart
(``\\frac{\\pi}{2^{98}}`` is not ``\\frac{\\pi}{2^{99}}``); only where a sum, difference or function argument
was larger than the result can cancellation explain a gap, so the gap must also exceed ``1e-12`` of that
magnitude. Integer powers of rationals stay exact up to exponent 9999 while the result has at most 8192
bits (as does every exact intermediate value). They are *equal* (False returned: "not different") when, at all
three test points
(one negative, so ``\\sqrt{x^2}`` is not ``x``), both evaluate to the same exact rational, or, when neither
side has a decimal literal (so ``1.41421356237`` is never proven equal to ``\\sqrt2``), to floats within
``1e-12`` relative; a nonzero rational function of small degree vanishing at three fixed irregular
rational points by chance is not a realistic answer. Otherwise the answer is None (undecided).
Comma lists inside ``()``/``[]`` are compared element by element (same brackets required), bare comma
lists and ``\\{...\\}`` as multisets.
"""

from __future__ import annotations

import cmath
import re
from fractions import Fraction

Value = Fraction | complex
_TOKEN = re.compile(r"\d+(?:\.\d+)?|\\[a-zA-Z]+|\\[{}]|[a-zA-Z]|[-+*/^()\[\]{}!|,]")
_COMMANDS = ("frac", "sqrt", "pi", "cdot", "times", "div", "sin", "cos", "tan", "ln", "log", "exp")
_FUNCS = {"sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan, "ln": cmath.log, "log": cmath.log, "exp": cmath.exp}
_MAX_MAGNITUDE = 1e30
_MAX_EXPONENT = 9999
_MAX_BITS = 8192  # exact rationals up to 2^8192: 2^{2006} stays exact, so 1/2^{2006} is never 0
_POINTS: tuple[dict, ...] = ({}, {}, {})  # filled lazily per letter
_SEEDS = (Fraction(7, 5), Fraction(-5, 3), Fraction(13, 4))
_DECIMAL = re.compile(r"\d\.\d")


class _GiveUp(Exception):
    """The text is outside the subset this reader understands."""


def _letter_value(letter: str, point: int) -> Fraction:
    cache = _POINTS[point]
    if letter not in cache:
        code = ord(letter)
        cache[letter] = _SEEDS[point] + Fraction((code * 37) % 101, 97 + point)
    return cache[letter]


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _GiveUp
        token = match.group(0)
        if token.startswith("\\") and token[1:].isalpha() and token[1:] not in _COMMANDS:
            if token.endswith("dots"):
                raise _GiveUp
            prefix = next((c for c in sorted(_COMMANDS, key=len, reverse=True) if token[1:].startswith(c)), None)
            if prefix is None:
                raise _GiveUp
            out.append("\\" + prefix)  # "\pir" (spaces removed by normalization) -> "\pi" "r"
            out.extend(token[1 + len(prefix) :])
        else:
            out.append(token)
        pos = match.end()
    return out


class _Reader:
    """Recursive-descent evaluator over a token list at one variable assignment."""

    def __init__(self, tokens: list[str], point: int) -> None:
        self.tokens, self.pos, self.point = tokens, 0, point
        self.exact = True
        self.variables = False
        self.peak = 0.0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _GiveUp
        self.pos += 1
        return token

    def _track(self, value: Value) -> Value:
        if isinstance(value, complex):
            self.exact = False
            size = abs(value)
            if size != size or size > _MAX_MAGNITUDE:
                raise _GiveUp
        elif value.numerator.bit_length() > _MAX_BITS or value.denominator.bit_length() > _MAX_BITS:
            raise _GiveUp
        return value

    def expr(self) -> Value:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            other = self.term()
            self._operands(value, other)
            value = self._track(value + other if op == "+" else value - other)
        return value

    def _operands(self, *values: Value) -> None:
        """Remember the largest magnitude entering a float sum or function (cancellation scale)."""
        if any(isinstance(v, complex) for v in values):
            self.peak = max(self.peak, *(abs(complex(v)) for v in values))

    def term(self) -> Value:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times"):
                self.take()
                value = self._track(value * self.unary())
            elif token in ("/", "\\div"):
                self.take()
                value = self._divide(value, self.unary())
            elif token is not None and self._starts_atom(token):
                value = self._track(value * self.power())
            else:
                return value

    def _divide(self, a: Value, b: Value) -> Value:
        if b == 0:
            raise _GiveUp
        if isinstance(a, Fraction) and isinstance(b, Fraction):
            return self._track(a / b)
        return self._track(complex(a) / complex(b))

    @staticmethod
    def _starts_atom(token: str) -> bool:
        return (
            token[0].isdigit()
            or token.isalpha()
            or token in ("(", "[", "{", "\\frac", "\\sqrt", "\\pi")
            or (token[1:] in _FUNCS)
        )

    def unary(self) -> Value:
        if self.peek() == "-":
            self.take()
            return self._track(-self.unary())
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Value:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            exponent = self.group("{", "}")
        else:
            token = self.take()
            if token[0].isdigit() and len(token) == 1:
                exponent = Fraction(token)
            elif token.isalpha() and len(token) == 1:
                exponent = self.letter(token)
            else:
                raise _GiveUp
        if self.peek() == "^":
            raise _GiveUp  # towers are never evaluated
        return self._power(base, exponent)

    def _power(self, base: Value, exponent: Value) -> Value:
        if isinstance(exponent, Fraction) and exponent.denominator == 1 and isinstance(base, Fraction):
            if abs(exponent) > _MAX_EXPONENT or (base == 0 and exponent < 0):
                raise _GiveUp
            bits = max(abs(base.numerator).bit_length(), base.denominator.bit_length())
            if bits * abs(exponent.numerator) > _MAX_BITS:
                raise _GiveUp
            return self._track(base**exponent.numerator)
        if base == 0:
            raise _GiveUp
        try:
            return self._track(complex(base) ** complex(exponent))
        except (OverflowError, ZeroDivisionError) as err:
            raise _GiveUp from err

    def postfix(self) -> Value:
        value = self.atom()
        while self.peek() == "!":
            self.take()
            if not (isinstance(value, Fraction) and value.denominator == 1 and 0 <= value <= 20):
                raise _GiveUp
            result = 1
            for k in range(2, int(value) + 1):
                result *= k
            value = Fraction(result)
        return value

    def group(self, open_: str, close: str) -> Value:
        self.take(open_)
        value = self.expr()
        self.take(close)
        return value

    def letter(self, token: str) -> Value:
        if token == "i":
            return self._track(complex(0, 1))
        if token == "e":
            return self._track(complex(cmath.e))
        self.variables = True
        return _letter_value(token, self.point)

    def atom(self) -> Value:
        token = self.peek()
        if token is None:
            raise _GiveUp
        if token[0].isdigit():
            self.take()
            return Fraction(token)
        if token in ("(", "[", "{"):
            return self.group(token, {"(": ")", "[": "]", "{": "}"}[token])
        if token.isalpha():
            self.take()
            return self.letter(token)
        self.take()
        if token == "\\pi":
            return self._track(complex(cmath.pi))
        if token == "\\frac":
            numerator = self.group("{", "}")
            return self._divide(numerator, self.group("{", "}"))
        if token == "\\sqrt":
            index: Value = Fraction(2)
            if self.peek() == "[":
                index = self.group("[", "]")
            radicand = self.group("{", "}")
            if index == 0:
                raise _GiveUp
            return self._power(radicand, self._divide(Fraction(1), index))
        if token[1:] in _FUNCS:
            if self.peek() not in ("(", "{"):
                raise _GiveUp
            argument = self.group(self.peek(), ")" if self.peek() == "(" else "}")
            self.peak = max(self.peak, abs(complex(argument)), 1.0)
            try:
                return self._track(complex(_FUNCS[token[1:]](complex(argument))))
            except (ValueError, OverflowError, ZeroDivisionError) as err:
                raise _GiveUp from err
        raise _GiveUp


def _evaluate(tokens: list[str], point: int) -> tuple[Value, bool, bool, float]:
    reader = _Reader(tokens, point)
    value = reader.expr()
    if reader.pos != len(tokens):
        raise _GiveUp
    return value, reader.exact, reader.variables, reader.peak


_MATRIX = re.compile(r"^\\begin\{([pbv]?matrix)\}(.*)\\end\{\1\}$", re.DOTALL)
_MEMBER = re.compile(r"^[a-zA-Z]\\in")


def top_level_split(body: str, separators: tuple[str, ...], strict: bool = True) -> list[str] | None:
    """Split ``body`` on any separator outside brackets (any opening bracket matches any closing one, so an
    interval ``[3,4)`` counts as one). ``strict``: None when a closing bracket has no opening one; otherwise
    such text is kept whole and splitting resumes once the depth is back at zero."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(body):
        char = body[i]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0 and strict:
                return None
        elif depth == 0:
            sep = next((x for x in separators if body.startswith(x, i)), None)
            if sep is not None:
                parts.append(body[start:i])
                i += len(sep)
                start = i
                continue
        i += 1
    parts.append(body[start:])
    return parts


def _split(text: str) -> tuple[str, list[str]]:
    """``(kind, parts)``: a bracket pair or matrix shape for ordered parts, ``"set"`` for unordered
    lists (bare commas, ``\\{...\\}``, the two branches of one ``\\pm``), ``""`` for one value."""
    text = _MEMBER.sub("", text)
    matrix = _MATRIX.match(text)
    if matrix:
        rows = top_level_split(matrix.group(2), ("\\\\",)) or []
        cells = [top_level_split(row, ("&",)) or [] for row in rows]
        return f"{matrix.group(1)}:{[len(r) for r in cells]}", [c for row in cells for c in row]
    if text.count("\\pm") == 1 and "," not in text:
        return "set", [text.replace("\\pm", "+"), text.replace("\\pm", "-")]
    kind, body = "", text
    if text.startswith("\\{") and text.endswith("\\}"):
        kind, body = "set", text[2:-2]
    elif len(text) > 1 and text[0] in "([" and text[-1] in ")]":
        kind, body = text[0] + text[-1], text[1:-1]
    parts = top_level_split(body, (",",))
    if parts is None or len(parts) == 1:
        return "", [text]
    return (kind or "set"), parts


def _compare_one(a: str, b: str) -> bool | None:
    """True: equal; False: certainly different; None: undecided (rule in the module docstring)."""
    if a == b:
        return True
    try:
        ta, tb = _tokens(a), _tokens(b)
        exact_everywhere, tight = True, True
        for point in range(len(_SEEDS)):
            va, exact_a, _, peak_a = _evaluate(ta, point)
            vb, exact_b, _, peak_b = _evaluate(tb, point)
            if exact_a and exact_b and isinstance(va, Fraction) and isinstance(vb, Fraction):
                if va != vb:
                    return False
                continue
            exact_everywhere = False
            ca, cb = complex(va), complex(vb)
            gap = abs(ca - cb)
            if gap > 1e-9 * max(abs(ca), abs(cb)) and gap > 1e-12 * max(peak_a, peak_b):
                return False
            tight = tight and gap <= 1e-12 * max(abs(ca), abs(cb), peak_a, peak_b)
        if exact_everywhere or (tight and not (_DECIMAL.search(a) or _DECIMAL.search(b))):
            return True
        return None
    except (_GiveUp, RecursionError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None


def fingerprint_differs(candidate: str, gold: str) -> bool | None:
    """True = certainly different, False = certainly equal, None = unknown (rule in the module docstring)."""
    kind_c, parts_c = _split(candidate)
    kind_g, parts_g = _split(gold)
    if kind_c != kind_g:
        return None  # e.g. a tuple against an interval: the symbolic check decides
    if len(parts_c) != len(parts_g):
        return None if kind_c == "set" else True
    if kind_c == "set":
        remaining, proven = list(parts_g), True
        for part in parts_c:
            verdicts = [_compare_one(part, g) for g in remaining]
            if True in verdicts:
                remaining.pop(verdicts.index(True))
            elif None in verdicts:
                remaining.pop(verdicts.index(None))
                proven = False
            else:
                return True
        return False if proven else None
    verdicts = [_compare_one(c, g) for c, g in zip(parts_c, parts_g, strict=True)]
    if False in verdicts:
        return True
    return False if all(v is True for v in verdicts) else None


def irrational_constant(text: str) -> bool:
    """Whether ``text`` is a constant without variables whose value the reader could not keep rational
    (``\\sqrt{2}``, ``\\pi``); False when it is rational, has variables, or cannot be read."""
    try:
        _, exact, variables, _ = _evaluate(_tokens(text), 0)
    except (_GiveUp, RecursionError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return False
    return not exact and not variables


def _agree_one(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        ta, tb = _tokens(a), _tokens(b)
        for point in range(len(_SEEDS)):
            va, _, _, peak_a = _evaluate(ta, point)
            vb, _, _, peak_b = _evaluate(tb, point)
            if isinstance(va, Fraction) and isinstance(vb, Fraction):
                if va != vb:
                    return False
                continue
            ca, cb = complex(va), complex(vb)
            gap = abs(ca - cb)
            if gap > 1e-9 * max(abs(ca), abs(cb)) and gap > 1e-12 * max(peak_a, peak_b):
                return False
        return True
    except (_GiveUp, RecursionError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return False


def fingerprint_agrees(a: str, b: str) -> bool:
    """Whether both answers parse and take the same values at every test point (element by element for
    lists and tuples, as multisets for sets); used to tell one answer written twice from two answers."""
    from rewards.normalize import hendrycks

    a, b = hendrycks(a), hendrycks(b)
    kind_a, parts_a = _split(a)
    kind_b, parts_b = _split(b)
    if kind_a != kind_b or len(parts_a) != len(parts_b):
        return False
    if kind_a == "set":
        remaining = list(parts_b)
        for part in parts_a:
            match = next((x for x in remaining if _agree_one(part, x)), None)
            if match is None:
                return False
            remaining.remove(match)
        return True
    return all(_agree_one(x, y) for x, y in zip(parts_a, parts_b, strict=True))


def proportional(a: str, b: str) -> bool | None:
    """For two equations given as ``lhs - rhs`` texts: True when one is a nonzero constant multiple of the
    other at every test point (the same equation, scaled or written the other way round), False when the
    ratio changes or exactly one side vanishes, None when the reader cannot evaluate them exactly."""
    try:
        ta, tb = _tokens(a), _tokens(b)
        ratio = None
        for point in range(len(_SEEDS)):
            va, exact_a, _, _ = _evaluate(ta, point)
            vb, exact_b, _, _ = _evaluate(tb, point)
            if not (exact_a and exact_b and isinstance(va, Fraction) and isinstance(vb, Fraction)):
                return None
            if (va == 0) != (vb == 0):
                return False
            if va == 0:
                continue
            if ratio is None:
                ratio = va / vb
            elif va / vb != ratio:
                return False
        return True if ratio is not None else None
    except (_GiveUp, RecursionError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None
