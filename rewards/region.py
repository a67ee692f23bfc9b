"""Which part of a completion holds its answer (shared by the MATH and GSM8K verifiers).

Rules of :func:`answer_region`, applied in order:

- Reasoning block: when the text has ``</think>`` (or ``</thinking>``, ``</reasoning>``), only what follows the
  last such tag is judged (a draft inside the block is never an answer, so it can neither score nor make the final
  answer a hedge). A text that opens ``<think>`` and never closes it was cut off while thinking: it has no answer
  (empty region).
- Few-shot echo: a line that opens a new problem (``Question:``, ``Q:``, ``Problem:``, optionally bold or as a
  Markdown heading, optionally numbered) and is followed later by a line that opens its answer (``A:``,
  ``Answer:``, ``Solution:``) is a question-answer pair about *another* question: an exemplar the model echoes,
  or a new problem it invents after answering. The region ends at the first such pair; a completion that starts
  with one has no answer of its own (an answer that only repeats an echoed exemplar never scores). A heading such
  as ``Question 1: no, because ...`` with no answer line after it is part of the solution.

Both are single linear scans.
"""

from __future__ import annotations

import re

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


def answer_region(text: str) -> str:
    """The part of ``text`` that may hold its final answer (rules in the module docstring)."""
    closes = [(text.rfind(f"</{tag}>"), tag) for tag in REASONING_TAGS]
    close, tag = max(closes)
    if close >= 0:
        text = text[close + len(tag) + 3 :]
    elif any(f"<{tag}>" in text for tag in REASONING_TAGS):
        return ""
    for match in _NEW_PROBLEM.finditer(text):
        if _ITS_ANSWER.search(text, match.end()):
            return text[: match.start()]
    return text
