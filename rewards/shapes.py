"""Answer shapes rewritten to one notation before MATH comparison (:func:`reshape`, used by ``math_flex.prepare``).

Rules, each a linear regex pass on an extracted answer (at most a few hundred characters):

- Membership: a leading ``x \\in`` before a set, interval or tuple is dropped (``x \\in \\{1, 4\\}`` is ``\\{1, 4\\}``).
- Inequalities: a chained inequality around one variable is the interval it describes (``-2 < x \\le 3`` is
  ``(-2, 3]``, ``3 > x > -2`` is ``(-2, 3)``), a single one is half-infinite (``x \\ge 2`` is ``[2, \\infty)``,
  ``5 > x`` is ``(-\\infty, 5)``), inequalities joined by "or" are the union of their intervals, and a lower and an
  upper bound of one variable joined by "and" (or a comma) are one interval (``x > -2 \\text{ and } x < 3``). Applied to
  both sides, so an inequality gold matches an interval answer and the reverse; strictness decides the brackets.
- Factorial ratios: ``\\frac{a!}{b!}`` (or ``a!/b!``) with at most :data:`MAX_RATIO_TERMS` factors between them is
  the product of those factors (``\\frac{2005!}{2003!}`` is ``2004 \\cdot 2005``), so it is compared exactly instead
  of being refused as a huge factorial.
- Base numerals: a parenthesised numeral with a base subscript is the numeral (``(1011)_2`` is ``1011_2``).
- Choices: when the gold is one choice letter (``C``, ``(C)``, ``\\text{(C)}``, ``\\textbf{C.}``), the answer is the
  letter its text starts with, however the brackets are broken (``(C``, ``C)``, ``\\textbf{(C) }12`` with the
  choice's value after it; a bare letter followed by words, "A total of 12", is a sentence, not a choice); a
  second choice label in the answer (``(C) or (D)``) is a hedge and matches nothing.
  When the gold is not a letter, a choice label before a value is dropped (``(B) 14`` answers ``14``); a gold that
  is a label and its value (``\\textbf{(B) }18``) is the letter against a choice answer, else the value.
"""

from __future__ import annotations

import re

_FACTORIAL_RATIO = re.compile(
    r"\\[dt]?frac\s*\{\s*(\d{1,5})\s*!\s*\}\s*\{\s*(\d{1,5})\s*!\s*\}|(?<![\w!])(\d{1,5})\s*!\s*/\s*(\d{1,5})\s*!"
)
MAX_RATIO_TERMS = 64
_MEMBER = re.compile(r"^\s*[a-zA-Z]\s*\\in\s*(?=\\\{|\\left|\(|\[)")
_RELATION = re.compile(r"\\(?:leqslant|geqslant|leq|geq|le|ge|lt|gt)(?![a-zA-Z])|<=|>=|<|>")
_VARIABLE = re.compile(r"^[a-zA-Z](?:_\{?\w\}?)?$")
_OR = re.compile(r"\\text\{\s*or\s*\}|(?<![a-zA-Z\\])or(?![a-zA-Z])|\\vee(?![a-zA-Z])|\\cup(?![a-zA-Z])")
_AND = re.compile(r"\\text\{\s*and\s*\}|(?<![a-zA-Z\\])and(?![a-zA-Z])|\\wedge(?![a-zA-Z])|\\land(?![a-zA-Z])|,")
_BASE_PARENS = re.compile(r"^\s*\(\s*([0-9A-Za-z.]+)\s*\)\s*(_\s*\{?\s*\d+\s*\}?)\s*$")
_WRAPPERS = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_GOLD_CHOICE = re.compile(r"^\(?([A-Z])\)?\.?$")
_ANSWER_CHOICE = re.compile(r"^\(?\s*([A-Z])\s*(?:\)|\.|:|$|\s)")
_LABEL = re.compile(r"\(\s*[A-Z]\s*\)|(?<![A-Za-z\\])[A-Z](?=\s*[).:])")
_PROSE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_CHOICE_WORD = re.compile(r"^(?:option|choice|answer)\s*:?\s*(?=\(?[A-Z]\b)", re.IGNORECASE)
_LABEL_THEN_VALUE = re.compile(r"^\s*\(\s*[A-Z]\s*\)\s*[.:]?\s*(?=[-\d\\$(])")


def _unwrap(text: str) -> str:
    for _ in range(3):
        text, count = _WRAPPERS.subn(r"\1", text)
        if not count:
            break
    return text.replace("$", "").replace("\\ ", " ").replace("~", " ").strip()


Bounds = tuple[str, bool, str, bool]  # low, low strict, high, high strict


def _bounds(text: str) -> tuple[str, Bounds] | None:
    """``(variable, bounds)`` of one (chained) inequality around a single variable, else None."""
    relations = list(_RELATION.finditer(text))
    if not 1 <= len(relations) <= 2:
        return None
    cuts = [0] + [x for m in relations for x in (m.start(), m.end())] + [len(text)]
    parts = [text[cuts[i] : cuts[i + 1]].strip() for i in range(0, len(cuts), 2)]
    if not all(parts):
        return None
    ops = [m.group(0) for m in relations]
    less = [op in ("<", "<=") or op.startswith(("\\l",)) for op in ops]
    strict = [op in ("<", ">", "\\lt", "\\gt") for op in ops]
    if len(ops) == 2:
        if less[0] != less[1] or not _VARIABLE.match(parts[1]) or _VARIABLE.match(parts[0]):
            return None
        if less[0]:
            return parts[1], (parts[0], strict[0], parts[2], strict[1])
        return parts[1], (parts[2], strict[1], parts[0], strict[0])
    if _VARIABLE.match(parts[0]) and not _VARIABLE.match(parts[1]):
        variable, bound, upper = parts[0], parts[1], less[0]  # x < 5: 5 is an upper bound
    elif _VARIABLE.match(parts[1]) and not _VARIABLE.match(parts[0]):
        variable, bound, upper = parts[1], parts[0], not less[0]  # 5 > x: 5 is an upper bound
    else:
        return None
    return variable, (("-\\infty", True, bound, strict[0]) if upper else (bound, strict[0], "\\infty", True))


def _written(bounds: Bounds) -> str:
    low, low_strict, high, high_strict = bounds
    return f"{'(' if low_strict else '['}{low}, {high}{')' if high_strict else ']'}"


def as_interval(text: str) -> str | None:
    """An inequality, inequalities joined by "or" (a union), or a lower and an upper bound joined by "and" (one
    interval), as interval notation (rule in the module docstring)."""
    if "<" not in text and ">" not in text and "\\l" not in text and "\\g" not in text:
        return None
    text = _unwrap(text)
    both = [p for p in _AND.split(text) if p.strip()]
    if len(both) == 2:
        found = [_bounds(p) for p in both]
        if found[0] is None or found[1] is None or found[0][0] != found[1][0]:
            return None
        (_, first), (_, second) = found
        lower, upper = (first, second) if first[2] == "\\infty" else (second, first)
        if lower[2] != "\\infty" or upper[0] != "-\\infty":
            return None  # "x > 1 and x > 2" is not one interval written this way
        return _written((lower[0], lower[1], upper[2], upper[3]))
    pieces = [p for p in _OR.split(text) if p.strip()]
    if not pieces or len(pieces) > 8:
        return None
    found = [_bounds(p) for p in pieces]
    if any(f is None for f in found):
        return None
    return " \\cup ".join(_written(f[1]) for f in found if f)


def _choice(answer: str, gold: str) -> tuple[str, str] | None:
    """``(answer, gold)`` as bare choice letters when the gold is one (rule in the module docstring)."""
    letter = _GOLD_CHOICE.match(_unwrap(gold).replace(" ", ""))
    if letter is None:
        return None
    text = _CHOICE_WORD.sub("", _unwrap(answer))
    picked = _ANSWER_CHOICE.match(text)
    if picked is None:
        return None
    bare = not text.startswith("(") and text[picked.end() - 1 : picked.end()] not in (")", ".", ":")
    if bare and _PROSE.search(text[picked.end() :]):
        return None  # "A total of 12" is a sentence, not choice (A)
    if (
        len(_LABEL.findall(text)) > 1
        or re.search(r"\b(?:or|and)\b|,", text[picked.end() :])
        and len(re.findall(r"(?<![A-Za-z\\])[A-Z](?![A-Za-z])", text)) > 1
    ):
        return "(hedge)", letter.group(1)
    return picked.group(1), letter.group(1)


def _factorial_ratio(match: re.Match) -> str:
    top, bottom = (int(x) for x in (match.group(1) or match.group(3), match.group(2) or match.group(4)))
    if abs(top - bottom) > MAX_RATIO_TERMS:
        return match.group(0)
    product = " \\cdot ".join(str(k) for k in range(min(top, bottom) + 1, max(top, bottom) + 1)) or "1"
    return f"({product})" if top >= bottom else f"\\frac{{1}}{{{product}}}"


def reshape(answer: str, gold: str) -> tuple[str, str]:
    """``answer`` and ``gold`` in one notation where they are the shapes above (rules in the module docstring)."""
    answer, gold = _MEMBER.sub("", answer), _MEMBER.sub("", gold)
    if "!" in answer or "!" in gold:
        answer, gold = _FACTORIAL_RATIO.sub(_factorial_ratio, answer), _FACTORIAL_RATIO.sub(_factorial_ratio, gold)
    answer_interval, gold_interval = as_interval(answer), as_interval(gold)
    if answer_interval or gold_interval:
        answer, gold = answer_interval or answer, gold_interval or gold
    answer, gold = _BASE_PARENS.sub(r"\1\2", answer), _BASE_PARENS.sub(r"\1\2", gold)
    labelled = _LABEL_THEN_VALUE.match(_unwrap(gold))
    if labelled:  # a gold "(B) 18": a choice answer is compared by letter, any other answer with 18
        text = _unwrap(gold)
        gold = text[: labelled.end()].strip() if _ANSWER_CHOICE.match(_unwrap(answer)) else text[labelled.end() :]
    choice = _choice(answer, gold)
    if choice is not None:
        return choice
    if _GOLD_CHOICE.match(_unwrap(gold).replace(" ", "")) is None:
        unwrapped = _unwrap(answer)
        label = _LABEL_THEN_VALUE.match(unwrapped)
        if label and not _LABEL.search(unwrapped, label.end()):
            answer = unwrapped[label.end() :]
    return answer, gold
