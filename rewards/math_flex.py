"""MATH "flex" verifier (Tülu 3 recipe doc, section 6.2), with hedging refused and a hard time limit.

Rule for ``verify(completion, ground_truth)``:

Gold: ``ground_truth`` itself (MATH-500 ``answer``), or, when it contains ``\\boxed{}``, its last boxed
group (the MATH 5000-problem ``solution`` field).

Judged text (:func:`prepare_text`): only what follows ``</think>``, never past an echoed or invented few-shot
question-answer pair (:mod:`rewards.region`), with unicode math as TeX (:mod:`rewards.unicode_math`) and escaped
dollars (``$\\$18$``) dropped so they never pair up as math delimiters.

What a completion commits to (:func:`final_answer`; :func:`extract` also says "none" or "hedge"). Committed
answers are, in text order:
- every non-empty ``\\boxed{...}``/``\\fbox{...}`` group (brace counting); an empty ``\\boxed{}`` (copied from
  the instruction "put your answer in \\boxed{}") is not an answer;
- every Minerva line "Final Answer: The final answer is X. I hope it is correct.";
- every "The (final) answer is X" sentence, "Answer: X" line or bold ``**Answer: X**`` (Tülu 8-shot, Llama
  ``The final answer is:
  $\\boxed{18}$``); X is the math span (``$..$``, ``\\(..\\)``, ``\\[..\\]``) that opens it, else the text to the
  end of the sentence, without a trailing parenthetical aside (``18 (= 6 × 3)`` -> 18; an aside offering another
  value, ``5 (or 6)``, is an alternative and makes a list); "not X" commits to
  nothing, and "not X, it is Y" / "not X but Y" commits to Y. Prose is not a commitment ("the answer is
  correct", "the answer is the product of ..."): X with a word of three letters or more (outside TeX commands
  and ``\\text{}``; "and", "either", "both" are connectives) counts only as "number + unit words" (``18 apples``);
  X holding a box is counted with the boxes, X in display math (``\\begin{align}``) is derivation; Markdown
  emphasis around X (``**73**``) is no part of it; a math span followed by "or"/","/"and" and another span
  keeps the whole sentence (``$x=2$ or $x=-3$`` is a solution set);
- every ``#### X`` line (a Markdown heading such as ``#### Step 1: ...`` is not one).
An answer the text only considers (a question) or rejects or takes back right after it ("that is wrong",
"which is impossible", "wait, no") is not committed (:mod:`rewards.retraction`); when every answer was taken
back, there is none. All committed answers must be the same answer (compared with the in-process rules of
:mod:`rewards.equivalence`, or agreeing at the fingerprint's test points), so ``\\boxed{\\frac34}`` then
``\\boxed{0.75}`` is one answer, while ``\\boxed{18}`` then ``#### 19`` (or "The answer is 19") are two: a later
marker does not override an earlier one, two different commitments are a hedge and score 0, except where
the gold is a list: there the distinct committed values together are the answer list ("the solutions are
``\\boxed{5}`` and ``\\boxed{-5}``" answers ``5, -5``, and still fails ``5``). The final answer is the last
committed one. Without any, the answer is the bold value (``**42**``, not bold prose such as ``**Step 1:**``) of
the last line that has one (several different ones there are a hedge), else the content of the last math span
(its value side when it is a chain such as ``3 + 4 = 7``),
else the whole output (at most 1000 characters; longer text cannot be a single answer).
Inside X, several math spans keep the words between them (``$3$ or $4$`` -> ``3 or 4``), so "or"/"and"/commas
make a list (see :mod:`rewards.equivalence`): a list offered where the gold is one value is a hedge and scores
0, and a solution set such as ``x = 2 \\text{ or } x = -3`` matches the gold list ``-3, 2``.

Before comparison, answer and gold are written in one notation (:func:`rewards.shapes.reshape`: inequalities as
intervals, ``x \\in`` dropped, choice letters, ``(1011)_2``, factorial ratios). Equivalence
(:func:`rewards.equivalence.quick_match`, in-process, rules in that module's docstring), then
math-verify symbolic equality (:mod:`rewards.symbolic`) in a worker process of the ``"math"`` pool under a hard
per-item time limit; inputs refused by :func:`rewards.symbolic.symbolic_allowed` (power towers, factorial
chains, factorials and binomials of huge arguments, brackets of any kind nested deeper than 12, > 1000
characters, ...) and items that run out of time score False. Sets of roots are unordered; ordered pairs and
intervals are ordered. No model text is ever evaluated as code (no eval, no sympify).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rewards.equivalence import listify, mixed_numbers, quick_match
from rewards.extract import boxed_spans, last_boxed
from rewards.normalize import after_equals, minerva
from rewards.numeric import fingerprint_agrees
from rewards.outcome import Extraction
from rewards.region import answer_region
from rewards.retraction import withdrawn
from rewards.shapes import reshape
from rewards.symbolic import symbolic_allowed
from rewards.unicode_math import unicode_to_tex
from rewards.worker_pool import DEFAULT_TIMEOUT, run_limited

MAX_WHOLE_OUTPUT = 1000
MAX_ANSWER_CHARS = 1500
MAX_COMMITMENTS = 16
_ANSWER_IS = re.compile(
    r"(?:\bthe\s+(?:final\s+)?|\bfinal\s+)answer\s+is\b\s*\**\s*:?\s*|^[ \t>#*]*(?:final\s+)?answer\s*\**\s*:\s*\**\s*"
    r"|\*\*(?:final\s+)?answer\s*:\s*",
    re.IGNORECASE | re.MULTILINE,
)
_PROSE = re.compile(r"(?<![\\a-zA-Z{])(?!(?:and|either|both)\b)[a-zA-Z]{3,}")
_VALUE_THEN_WORDS = re.compile(r"^\s*(-?\s*\$?\d[\d,]*(?:\.\d+)?)\s+[a-zA-Z][a-zA-Z ]{0,40}$")
_HASHES = re.compile(r"####(?!#)(?![ \t]*[A-Za-z]{2})\s*([^\n]{0,300})")
_NEGATED = re.compile(r"^not\b\s*(?:\$[^$]{0,200}\$|[^,;$\n]{0,200})\s*(?:[,;]\s*|\s+but\s+)?", re.IGNORECASE)
_INSTEAD = re.compile(r"^(?:but\s+|rather\s+|instead\s+)?(?:it\s+is|it's|it\s+equals)?\s*", re.IGNORECASE)
_SPAN = re.compile(r"\$\$(.{1,2000}?)\$\$|\$(.{1,2000}?)\$|\\\((.{1,2000}?)\\\)|\\\[(.{1,2000}?)\\\]", re.DOTALL)
_ASIDE = re.compile(r"(?<=[\w}$])\s+\([^()]{0,200}\)$")
# an aside offering another value is an alternative, not a remark: "5 (or 6)", "$5$ (maybe $6$)"
_OFFERED = re.compile(r"^\s*\(\s*(?:or|maybe|possibly|perhaps|alternatively|otherwise)\b", re.IGNORECASE)
_TEXT_ARG = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{[^{}]*\}")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n|$")
_ALL_SPANS = re.compile(r"\$\$(.{0,2000}?)\$\$|\$(.{0,2000}?)\$|\\\((.{0,2000}?)\\\)|\\\[(.{0,2000}?)\\\]", re.DOTALL)
_MORE_SPANS = re.compile(
    r"\s*\(?\s*(?:,|or\b|and\b|maybe\b|possibly\b|perhaps\b|\\text\{\s*(?:or|and)\s*\})\s*(?:\$|\\\()"
)
_CHOICE_WORD = re.compile(r"^(?:answer\s+)?(?:choice|option)\s+(?=\(?[A-Z]\b)", re.IGNORECASE)
_BOLD = re.compile(r"\*\*([^*\n]{1,200})\*\*")
_FINAL_LINE = re.compile(r"Final Answer: The final answer is (.{0,1000}?)\. I hope it is correct", re.DOTALL)


def gold_answer(ground_truth: str) -> str:
    """The gold answer string: the last boxed group when there is one, else the text itself."""
    boxed = last_boxed(ground_truth) if "\\boxed" in ground_truth or "\\fbox" in ground_truth else None
    return (boxed if boxed is not None else ground_truth).strip()


def _span_text(x: str) -> str:
    """The answer inside a committed segment: math spans unwrapped, the words between them kept."""
    spans = list(_ALL_SPANS.finditer(x))
    if not spans:
        return x.strip()
    if len(spans) == 1:
        m = spans[0]
        inner = next(g for g in m.groups() if g is not None)
        return minerva(x[: m.start()] + inner + x[m.end() :]) if x[: m.start()].strip() else inner.strip()
    out, pos = [], 0
    for m in spans:
        out.append(x[pos : m.start()])
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    out.append(x[pos:])
    return "".join(out).strip()


def _clean(x: str) -> str:
    """A committed segment without trailing full stops, Markdown emphasis or a parenthetical aside."""
    for _ in range(3):
        x = x.strip().rstrip(".,;").strip().strip("*_").strip()
    return _ASIDE.sub(lambda m: _OFFERED.sub(" or ", m.group(0)).rstrip(")") if _OFFERED.match(m.group(0)) else "", x)


def _answer_is(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """``(start, end, X)`` of every "The answer is X" (rule in the module docstring), and whether one committed
    only to "not X"."""
    found, negated_only = [], False
    for match in _ANSWER_IS.finditer(text):
        rest_start = match.end()
        rest = text[rest_start : rest_start + 2000]
        if _ANSWER_IS.match(rest):
            continue  # "Final Answer: The final answer is X": the next marker reads X
        negated = _NEGATED.match(rest)
        if negated:
            rest = rest[negated.end() :]
            rest_start += negated.end()
            if not negated.group(0).rstrip().endswith((",", ";")) and " but " not in negated.group(0):
                negated_only = True
                continue  # "the answer is not 5" (and nothing after) commits to nothing
            skip = _INSTEAD.match(rest).end()
            rest, rest_start = rest[skip:], rest_start + skip
        span = _SPAN.match(rest)
        sentence = rest[: _SENTENCE_END.search(rest, span.end() if span else 0).start()]
        x, stop = sentence, len(sentence)
        if "$" in x or "\\(" in x:
            x = _span_text(x)
        if span and (not _MORE_SPANS.match(rest, span.end()) or _PROSE.search(_TEXT_ARG.sub("", _clean(x)))):
            x, stop = next(g for g in span.groups() if g is not None), span.end()  # the opening span alone
        x = _clean(_CHOICE_WORD.sub("", x.strip()))  # "the answer is choice (C)" commits to (C)
        if "\\boxed" in x or "\\fbox" in x or "\\begin{align" in x or "\\end{" in x and "matrix" not in x:
            continue  # a boxed answer is counted with the boxes; display math is derivation, not an answer
        if _PROSE.search(_TEXT_ARG.sub("", x)):
            value = _VALUE_THEN_WORDS.match(x)
            if value is None:
                continue  # prose ("the answer is correct", "...is the product of 120 and 24") commits to nothing
            x = value.group(1)
        if x and x != "\\boxed{}":
            found.append((match.start(), rest_start + stop, minerva(x) if "=" in x else x))
    return found, negated_only


def _bold_values(text: str) -> list[tuple[int, int, str]]:
    """Markdown bold spans holding a value (``**42**``, ``**x = 5**``); bold prose (``**Step 1:**``) is not one."""
    found = []
    for match in _BOLD.finditer(text):
        x = _clean(match.group(1))
        if x and not x.endswith(":") and not _PROSE.search(_TEXT_ARG.sub("", x)) and any(c.isalnum() for c in x):
            found.append((match.start(), match.end(), minerva(_span_text(x)) if "$" in x or "=" in x else x))
    return found


def located_commitments(text: str) -> tuple[list[tuple[int, int, str]], bool, bool]:
    """``(commitments, negated, withdrawn)``: every answer ``text`` commits to (boxed, Minerva line, "answer is",
    ``####``) as ``(start, end, answer)`` in source order, less the ones only considered or taken back
    (:mod:`rewards.retraction`); whether an "answer is" marker committed only to a negation; whether any
    commitment was withdrawn."""
    found = [(a, b, c) for a, b, c in boxed_spans(text) if c.strip()]
    for m in _FINAL_LINE.finditer(text):
        x = m.group(1)
        found.append((m.start(), m.end(1), minerva(_span_text(x)) if x.count("$") > 2 else minerva(x)))
    negated = False
    if "nswer" in text or "NSWER" in text:
        said, negated = _answer_is(text)
        found += said
    if "####" in text:
        found += [(m.start(), m.end(), _clean(m.group(1))) for m in _HASHES.finditer(text) if _clean(m.group(1))]
    found = sorted((f for f in found if f[2].strip()), key=lambda f: (f[0], f[1]))
    kept = []
    for i, (start, end, answer) in enumerate(found):
        later = next((f[0] for f in found[i + 1 :] if f[0] >= end), None)
        if not withdrawn(text, end, later, start):
            kept.append((start, end, answer))
    return kept, negated, len(kept) < len(found)


def commitments(text: str) -> tuple[list[str], bool]:
    """Every answer ``text`` commits to (boxed, Minerva line, "answer is", ``####``), in source order, and
    whether an "answer is" marker committed only to a negation."""
    found, negated, _ = located_commitments(text)
    return [answer for _, _, answer in found], negated


def same_answer(a: str, b: str) -> bool:
    """Two committed answers are one answer: equal in-process, or equal at every fingerprint test point."""
    if a.strip() == b.strip():
        return True
    a, b = a[:MAX_ANSWER_CHARS], b[:MAX_ANSWER_CHARS]
    verdict = quick_match(a, b)
    if verdict is not None:
        return verdict
    return fingerprint_agrees(mixed_numbers(a), mixed_numbers(b))


def prepare_text(text: str) -> str:
    """The part of a completion that is judged (:func:`rewards.region.answer_region`), with unicode math as TeX
    and escaped dollars (currency inside math, ``$\\$18$``) dropped so they never pair up as math delimiters."""
    return unicode_to_tex(answer_region(text)).replace("\\$", "")


def extract(text: str, gold_is_list: bool = False) -> Extraction:
    """What ``text`` answers: ``answer`` (with the answer), ``none`` or ``hedge`` (rule in the docstring)."""
    text = prepare_text(text)
    found, negated, withdrew = located_commitments(text)
    if not found:
        if negated or withdrew:
            return Extraction("none", None)
        found = _bold_values(text)
        if found:
            nexts = [f[0] for f in found[1:]] + [None]
            found = [f for f, later in zip(found, nexts, strict=True) if not withdrawn(text, f[1], later, f[0])]
            if not found:
                return Extraction("none", None)
            line_start = text.rfind("\n", 0, found[-1][0]) + 1
            found = [f for f in found if f[0] >= line_start]  # bold values of the last line that has one
    if found:
        answers = [answer for _, _, answer in found]
        if len(answers) > MAX_COMMITMENTS:
            return Extraction("hedge", None)
        last = answers[-1]
        if any(not same_answer(x, last) for x in answers[:-1]):
            if not gold_is_list:
                return Extraction("hedge", None)
            distinct: list[str] = []
            for x in answers:
                if not any(same_answer(x, y) for y in distinct):
                    distinct.append(x)
            return Extraction("answer", ", ".join(distinct))  # "the solutions are \boxed{5} and \boxed{-5}"
        return Extraction("answer", last)
    spans = list(_ALL_SPANS.finditer(text))
    if spans:  # a chain "3 + 4 = 7" answers its value side
        return Extraction("answer", after_equals(next(g for g in spans[-1].groups() if g is not None)))
    stripped = text.strip()
    if not stripped:
        return Extraction("none", None)
    return Extraction("answer", text) if len(text) <= MAX_WHOLE_OUTPUT else Extraction("none", None)


def final_answer(text: str, gold_is_list: bool = False) -> str | None:
    """The one answer ``text`` commits to, or None when it has none or hedges (rule in the docstring)."""
    return extract(text, gold_is_list).answer


def prepare(completion: str, ground_truth: str) -> tuple[bool | None, str, str]:
    """``(decision, candidate, gold)``; decision None means the pair needs the symbolic check."""
    if not isinstance(completion, str) or not isinstance(ground_truth, str):
        return False, "", ""
    gold = unicode_to_tex(gold_answer(ground_truth))
    answer = final_answer(completion, gold_is_list=listify(gold, thousands=True) is not None)
    if answer is None or not gold or len(answer) > MAX_ANSWER_CHARS:
        return False, "", gold
    answer, gold = reshape(answer.strip(), gold)
    decision = quick_match(answer, gold)
    answer, gold = mixed_numbers(answer), mixed_numbers(gold)
    if decision is None and not (symbolic_allowed(answer) and symbolic_allowed(gold)):
        decision = False
    return decision, answer, gold


def verify_batch(
    completions: Sequence[str], ground_truths: Sequence[str], timeout: float = DEFAULT_TIMEOUT
) -> list[bool]:
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
        outcomes = run_limited("rewards.symbolic:equivalent", jobs, timeout=timeout, default=False, pool="math")
        for i, outcome in zip(pending, outcomes, strict=True):
            results[i] = outcome is True
    return results


def verify(completion: str, ground_truth: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether ``completion``'s one final answer equals ``ground_truth`` (rule in the module docstring)."""
    return verify_batch([completion], [ground_truth], timeout=timeout)[0]
