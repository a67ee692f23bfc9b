"""MATH "flex" verifier (Tülu 3 recipe doc, section 6.2), with hedging refused and a hard time limit.

Rule for ``verify(completion, ground_truth)``:

Gold: ``ground_truth`` itself (MATH-500 ``answer``), or, when it contains ``\\boxed{}``, its last boxed
group (the MATH 5000-problem ``solution`` field).

One final answer per completion, taken from the first source that has one:
1. ``\\boxed{...}``/``\\fbox{...}`` groups (brace counting): the last one is the answer, and all boxed groups
   must normalize to the same string, otherwise the completion hedges and scores False;
2. Minerva lines "Final Answer: The final answer is X. I hope it is correct." (same agreement rule),
   X cleaned with :func:`rewards.normalize.minerva`;
3. the text between the last two ``$``;
4. the whole output (only when at most 1000 characters; longer text cannot be a single answer).
An answer that offers alternatives with the word "or" is hedging and scores False unless the gold
itself contains "or".

The answer is correct when any of these holds (cheapest first, all but the last in-process):
- the Hendrycks-normalized strings are equal (:func:`rewards.normalize.hendrycks`);
- both are exact numbers (integers, decimals, ``\\frac{a}{b}``, ``a/b``), compared as Fractions; this
  check is decisive, as is the same check on unordered comma lists (``1, 2`` == ``2, 1``), a word
  answer (``\\text{east}``) against a word, and numerals in a base (``52_8`` != ``52_9``);
- a candidate with a word (three letters or more that are not a TeX command) against a gold without
  one is wrong (prose against a formula);
- the numeric fingerprint of :mod:`rewards.numeric` (values at fixed rational points) proves the two
  different, or proves two constants equal as exact rationals;
- otherwise math-verify symbolic equality (:mod:`rewards.symbolic`) in a worker process under a hard
  per-item time limit; inputs refused by :func:`rewards.symbolic.symbolic_allowed` (power towers, huge
  factorials, > 1000 characters, ...) and items that run out of time score False.
Sets of roots are unordered; ordered pairs and intervals are ordered; ``\\text{}``, ``\\left``/``\\right``,
``\\!``, degrees, dollars and percent are noise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

from rewards.extract import boxed_all, last_boxed
from rewards.limits import DEFAULT_TIMEOUT, run_limited
from rewards.normalize import UNICODE_TO_TEX, hendrycks, minerva, minerva_candidates
from rewards.numeric import fingerprint_differs
from rewards.symbolic import symbolic_allowed

MAX_WHOLE_OUTPUT = 1000
MAX_ANSWER_CHARS = 5000
_HEDGE_OR = re.compile(r"(?:\\text\{\s*or\s*\}|\bor\b)")
_EXACT = re.compile(r"^(-?)(?:(\d+(?:\.\d+)?)|\\frac\{(-?\d+)\}\{(-?\d+)\}|(\d+)/(\d+))$")
_WORD = re.compile(r"^[A-Za-z][A-Za-z ]*$")
_WORDY = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_BASE = re.compile(r"^(-?[0-9A-Za-z.]+)_\{?(\d+)\}?$")


def gold_answer(ground_truth: str) -> str:
    """The gold answer string: the last boxed group when there is one, else the text itself."""
    boxed = last_boxed(ground_truth) if "\\boxed" in ground_truth or "\\fbox" in ground_truth else None
    return (boxed if boxed is not None else ground_truth).strip()


def final_answer(text: str) -> str | None:
    """The one answer ``text`` commits to, or None when it has none or hedges (rule in the docstring)."""
    boxed = boxed_all(text)
    if boxed:
        if len({hendrycks(b[:MAX_ANSWER_CHARS]) for b in boxed}) > 1:
            return None
        return boxed[-1]
    finals = minerva_candidates(text)
    if finals:
        cleaned = [minerva(x) for x in finals]
        if len({hendrycks(x) for x in cleaned}) > 1:
            return None
        return cleaned[-1]
    last = text.rfind("$")
    if last > 0:
        before = text.rfind("$", 0, last)
        if before >= 0:
            return text[before + 1 : last]
    return text if len(text) <= MAX_WHOLE_OUTPUT else None


def _exact(normalized: str) -> Fraction | None:
    match = _EXACT.match(normalized)
    if match is None:
        return None
    sign, number, num, den, snum, sden = match.groups()
    try:
        if number is not None:
            value = Fraction(number)
        elif num is not None:
            value = Fraction(int(num), int(den))
        else:
            value = Fraction(int(snum), int(sden))
    except (ZeroDivisionError, ValueError):
        return None
    return -value if sign else value


def _split_list(normalized: str) -> list[str] | None:
    """Elements of an unordered answer list: ``1,2`` or ``\\{1,2\\}``; None for anything else."""
    s = normalized
    if s.startswith("\\{") and s.endswith("\\}"):
        s = s[2:-2]
    elif s[:1] in "([" or "," not in s:
        return None
    depth = 0
    parts, start = [], 0
    for i, ch in enumerate(s):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts if len(parts) > 1 else None


def quick_match(candidate: str, gold: str) -> bool | None:
    """In-process decision: True/False when decisive, None when symbolic equality must decide."""
    c, g = hendrycks(candidate), hendrycks(gold)
    if c == g:
        return True
    if not c or not g:
        return False
    ce, ge = _exact(c), _exact(g)
    if ce is not None and ge is not None:
        return ce == ge
    gl, cl = _split_list(g), _split_list(c)
    if gl is not None and cl is not None and len(gl) == len(cl):
        gv, cv = [_exact(x) for x in gl], [_exact(x) for x in cl]
        if None not in gv and None not in cv:
            return sorted(gv) == sorted(cv)  # type: ignore[type-var]
    if _WORD.match(g) and _WORD.match(c):
        return g.replace(" ", "").lower() == c.replace(" ", "").lower()
    cb, gb = _BASE.match(c), _BASE.match(g)
    if cb and gb:  # numerals in a base: digits and base must both match
        return cb.groups() == gb.groups()
    if ge is not None and not any(ch.isdigit() or ch == "\\" for ch in c):
        return False
    if _WORDY.search(c) and not _WORDY.search(g):  # prose against a formula
        return False
    if symbolic_allowed(c) and symbolic_allowed(g):
        differs = fingerprint_differs(c, g)
        if differs is not None:
            return not differs
    return None


def prepare(completion: str, ground_truth: str) -> tuple[bool | None, str, str]:
    """``(decision, candidate, gold)``; decision None means the pair needs the symbolic check."""
    if not isinstance(completion, str) or not isinstance(ground_truth, str):
        return False, "", ""
    gold = gold_answer(ground_truth)
    answer = final_answer(completion)
    if answer is None or not gold or len(answer) > MAX_ANSWER_CHARS:
        return False, "", gold
    answer = answer.strip()
    if not answer.isascii():
        answer = answer.translate(UNICODE_TO_TEX)
    if _HEDGE_OR.search(answer) and not _HEDGE_OR.search(gold):
        return False, answer, gold
    decision = quick_match(answer, gold)
    if decision is None and not (symbolic_allowed(answer) and symbolic_allowed(gold)):
        decision = False
    return decision, answer, gold


def verify_batch(completions: Sequence[str], ground_truths: Sequence[str],
                 timeout: float = DEFAULT_TIMEOUT) -> list[bool]:
    """Verify many pairs: in-process checks first, the rest in one batch to the time-limited pool."""
    results: list[bool] = []
    pending: list[int] = []
    jobs: list[tuple[str, str]] = []
    for i, (completion, truth) in enumerate(zip(completions, ground_truths, strict=True)):
        try:
            decision, answer, gold = prepare(completion, truth)
        except Exception:  # noqa: BLE001 - a verifier never raises
            decision, answer, gold = False, "", ""
        results.append(bool(decision))
        if decision is None:
            pending.append(i)
            jobs.append((answer, gold))
    if jobs:
        outcomes = run_limited("rewards.symbolic:equivalent", jobs, timeout=timeout, default=False)
        for i, outcome in zip(pending, outcomes, strict=True):
            results[i] = outcome is True
    return results


def verify(completion: str, ground_truth: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether ``completion``'s one final answer equals ``ground_truth`` (rule in the module docstring)."""
    return verify_batch([completion], [ground_truth], timeout=timeout)[0]
