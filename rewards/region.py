"""Which part of a completion holds its answer (shared by the MATH and GSM8K verifiers).

Rules of :func:`answer_region`, applied in order:

- Reasoning block: when the text has ``</think>`` (or ``</thinking>``, ``</reasoning>``), only what follows the
  last such tag is judged (a draft inside the block is never an answer, so it can neither score nor make the final
  answer a hedge). A text that opens ``<think>`` and never closes it was cut off while thinking: it has no answer
  (empty region).
- Shipped exemplars: text that reproduces one of the few-shot exemplars the evaluation ships
  (``tulu_recipes/evaluation/data``: the 8 GSM8K chain-of-thought and 4 Minerva MATH exemplars, which the Tülu
  recipe prompts with), recognised by the first :data:`ECHO_WORDS` words of its question (at least
  :data:`MIN_ECHO_WORDS`), is cut out from there up to the end of the line where it states its own answer ("The
  answer is 6", ``\\boxed{24}``; else to the end of its paragraph), so its answer never counts as the completion's.
- Few-shot echo: a line that opens a new problem (``Question:``, ``Q:``, ``Problem:``, optionally bold or as a
  Markdown heading, optionally numbered) and is followed later by a line that opens its answer (``A:``,
  ``Answer:``, ``Solution:``) is a question-answer pair about *another* question: an exemplar the model echoes,
  or a new problem it invents after answering. The region ends at the first such pair; a completion that starts
  with one has no answer of its own (an answer that only repeats an echoed exemplar never scores). A heading such
  as ``Question 1: no, because ...`` with no answer line after it is part of the solution.

Both are single linear scans.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

REASONING_TAGS = ("think", "thinking", "reasoning")
# no two whitespace runs are adjacent in these patterns: a long run of spaces cannot make them backtrack
_NEW_PROBLEM = re.compile(
    r"^[ \t>]*(?:#{1,6}[ \t]*)?(?:(?:\*\*|__)[ \t]*)?(?:Question|Problem|Q)(?:[ \t]+\d{1,3})?[ \t]*"
    r"(?:(?:\*\*|__)[ \t]*)?[:.]",
    re.MULTILINE,
)
_ITS_ANSWER = re.compile(
    r"^[ \t>]*(?:#{1,6}[ \t]*)?(?:(?:\*\*|__)[ \t]*)?(?:A|Answer|Solution)[ \t]*(?:(?:\*\*|__)[ \t]*)?:", re.MULTILINE
)


ECHO_WORDS = 10
MIN_ECHO_WORDS = 6  # a shorter question is too generic to recognise
EXEMPLAR_FILES = (("gsm8k_8shot.jsonl", ("question",)), ("math_minerva_4shot.jsonl", ("problem",)))


@lru_cache(maxsize=1)
def _exemplars() -> tuple[re.Pattern | None, dict[str, str]]:
    """One pattern for the opening words of every shipped exemplar text, and each opening's answer."""
    openings: dict[str, str] = {}
    try:
        folder = resources.files("tulu_recipes.evaluation") / "data"
        for name, fields in EXEMPLAR_FILES:
            for line in (folder / name).read_text(encoding="utf-8").splitlines():
                row = json.loads(line) if line.strip() else {}
                for field in fields:
                    words = str(row.get(field, "")).split()[:ECHO_WORDS]
                    if len(words) >= MIN_ECHO_WORDS:
                        openings[" ".join(words).lower()] = str(row.get("answer", ""))
    except (OSError, ModuleNotFoundError, ValueError):
        return None, {}
    if not openings:
        return None, {}
    alternatives = sorted((r"\s+".join(re.escape(w) for w in o.split()) for o in openings), key=len, reverse=True)
    return re.compile("|".join(alternatives), re.IGNORECASE), openings


def _cut_exemplars(text: str) -> str:
    """``text`` without reproduced shipped exemplars (rule in the module docstring)."""
    pattern, openings = _exemplars()
    if pattern is None:
        return text
    flat = " ".join(text.lower().split())  # a cheap filter in C before the regex: most texts echo nothing
    if not any(opening in flat for opening in openings):
        return text
    for _ in range(16):
        match = pattern.search(text)
        if match is None:
            return text
        answer = openings.get(" ".join(match.group(0).split()).lower(), "")
        stated = re.compile(r"(?:answer\s+is:?|\\boxed\{|####)\s*\$?\s*" + re.escape(answer), re.IGNORECASE)
        said = stated.search(text, match.end(), match.end() + 2000) if answer else None
        found = said.start() if said else text.find("\n\n", match.end())  # else: to the end of its paragraph
        found = len(text) if found < 0 else found
        line_end = text.find("\n", found)
        text = text[: match.start()] + (text[line_end:] if line_end >= 0 else "")
    return text


def answer_region(text: str) -> str:
    """The part of ``text`` that may hold its final answer (rules in the module docstring)."""
    closes = [(text.rfind(f"</{tag}>"), tag) for tag in REASONING_TAGS]
    close, tag = max(closes)
    if close >= 0:
        text = text[close + len(tag) + 3 :]
    elif any(f"<{tag}>" in text for tag in REASONING_TAGS):
        return ""
    text = _cut_exemplars(text)
    for match in _NEW_PROBLEM.finditer(text):
        if _ITS_ANSWER.search(text, match.end()):
            return text[: match.start()]
    return text
