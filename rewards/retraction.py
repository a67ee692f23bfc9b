"""Answers a text only considers, rejects or takes back (used by the MATH and GSM8K verifiers).

A committed answer (a box, an "answer is" sentence, a ``####`` line, ...) does not count when:

- it is posed as a question: the sentence it sits in ends with ``?`` ("Is the answer $\\boxed{5}$?"), or only
  supposed: its sentence so far says "suppose", "assume", "what if" ("Suppose the answer were $\\boxed{4}$");
- the text right after it, before the next committed answer and within :data:`WINDOW` characters (the rest of
  its sentence, or a next sentence that opens with the cue), rejects it: calls it (``that``, ``this``, ``which``,
  ``the answer``, the value itself) wrong, incorrect, impossible, invalid, extraneous, not possible/valid/right/
  correct/an answer, says it "can't be" right, or takes it back ("wait, no", "scratch that", "I made a mistake",
  "let me recompute", "not the (final/right) answer"). This covers a first guess called wrong, a value said to
  be impossible, and a final line taken back afterwards (then the text has no answer left, unless an earlier one
  stands).

The cues are phrases about the answer just given, so a neutral remark ("a common mistake is ...") is not one.
Each check is one bounded regex search on a window of the text.
"""

from __future__ import annotations

import re

WINDOW = 240
_SENTENCE_END = re.compile(r"[?!]|\.(?=[\s$*\\]|[A-Z]|$)|\n\s*\n")
_PREDICATE = (
    r"(?:\b(?:would|must|might|could|should|will)\s+)?(?:\b(?:is|are|was|were|be|seems|looks)\b|'s)\s+"
    r"(?:(?:clearly|definitely|obviously|actually|also)\s+)?"
    r"(?:wrong|incorrect|impossible|invalid|extraneous|absurd|a\s+contradiction|not\s+(?:right|correct|possible|"
    r"valid|allowed|an?\s+(?:valid\s+)?(?:answer|solution|option)|the\s+(?:final\s+|right\s+|correct\s+)?answer))\b"
    r"(?!\s+(?:to|if|for|unless)\b)"  # "it would be wrong to include 0" judges something else
    r"|\b(?:can(?:no|')t|could\s*n[o']t|must\s+not)\s+be\s+(?:right|correct|true|the\s+answer|possible|valid)\b"
)
_TAKE_BACK = (
    r"\b(?:wait|hmm+|oops|hold\s+on)\b[\s,.!:;-]*no\b|\bno,?\s+wait\b|\bscratch\s+that\b"
    r"|\bI\s+(?:think\s+I\s+|must\s+have\s+|might\s+have\s+)?(?:made\s+(?:a|an)\s+(?:mistake|error)|miscalculated"
    r"|misread|miscounted|double[- ]counted|overcounted|undercounted)"
    r"|\b(?:that|this)\s+(?:was\s+)?(?:a\s+)?(?:mistake|miscalculation)\b|\blet\s+me\s+(?:recompute|recalculate|redo)"
    r"|\b(?:we|I)\s+(?:must\s+|have\s+to\s+|can\s+)?(?:reject|discard)\b"
    r"|\bnot\s+the\s+(?:final\s+|right\s+|correct\s+)answer\b"
)
_SUPPOSE = re.compile(r"\b(?:suppose|supposing|assume|assuming|what\s+if|hypothetically)\b", re.IGNORECASE)
_MINERVA_TAIL = re.compile(r"I hope it is correct\.?\s*")
_SUBJECT = (
    r"(?:that|this|it|which|(?:the|my|this|that|our|your)\s+(?:answer|result|value|guess|solution|number)"
    r"|\$[^$\n]{1,40}\$|\\\(.{1,40}?\\\)|[-+]?\d[\d,.]*)"
)
_INTERJECTIONS = r"(?:(?:wait|hmm+|oops|actually|but|and|so|no|however|unfortunately|hold\s+on)\b[\s,.!:;-]*)*"
_AFTER_ANSWER = re.compile(  # right after the answer, in its own sentence: "$-2$, which is impossible"
    r"[\s$})\].,;:-]*" + _INTERJECTIONS + r"(?:" + _SUBJECT + r"\s*)?(?:" + _PREDICATE + ")", re.IGNORECASE
)
_INTERJECTION_ONLY = re.compile(r"\s*" + _INTERJECTIONS + r"[\s.!]*$", re.IGNORECASE)
_TAKE_BACK_ANYWHERE = re.compile(_TAKE_BACK, re.IGNORECASE)
_OPENS_SENTENCE = re.compile(  # a next sentence about the answer: "Wait, that's not right."
    r"[\s$\\\])]*" + _INTERJECTIONS + r"(?:" + _TAKE_BACK + r"|" + _SUBJECT + r"\s*(?:" + _PREDICATE + "))",
    re.IGNORECASE,
)


def posed_as_question(text: str, end: int) -> bool:
    """Whether the sentence that the answer ending at ``end`` belongs to ends with a question mark."""
    match = _SENTENCE_END.search(text, end, end + WINDOW)
    return match is not None and match.group(0) == "?"


def rejected(text: str, end: int, next_start: int | None = None) -> bool:
    """Whether the text after an answer ending at ``end`` (up to ``next_start`` or :data:`WINDOW` characters)
    rejects or takes it back: a verdict right after the answer or a take-back phrase in the rest of its sentence,
    or a next sentence that opens with one about the answer. Rule in the module docstring."""
    stop = min(len(text), end + WINDOW if next_start is None else max(end, min(next_start, end + WINDOW)))
    first = _SENTENCE_END.search(text, end, stop)
    own_end = first.end() if first else stop
    if _AFTER_ANSWER.match(text, end, own_end) or _TAKE_BACK_ANYWHERE.search(text, end, own_end):
        return True
    if first is None or own_end >= stop:
        return False
    while own_end < stop and text[own_end].isspace():
        own_end += 1
    tail = _MINERVA_TAIL.match(text, own_end, stop)
    if tail:  # the Minerva format's closing sentence belongs to the answer line
        own_end = tail.end()
    for _ in range(2):  # an interjection alone ("Hmm, wait.") hands over to the sentence after it
        second = _SENTENCE_END.search(text, own_end, stop)
        sentence = text[own_end : second.end() if second else stop]
        if _OPENS_SENTENCE.match(sentence):
            return True
        if second is None or not _INTERJECTION_ONLY.match(sentence):
            return False
        own_end = second.end()
        while own_end < stop and text[own_end].isspace():
            own_end += 1
    return False


def hypothetical(text: str, start: int) -> bool:
    """Whether the sentence leading up to an answer starting at ``start`` only supposes it ("Suppose the answer
    were $\\boxed{4}$"); a supposition closed by a comma before the answer ("Assuming no losses, ...") is not."""
    before = text[max(0, start - WINDOW) : start]
    ends = list(_SENTENCE_END.finditer(before))
    cues = list(_SUPPOSE.finditer(before, ends[-1].end() if ends else 0))
    # "Assuming no losses, the answer is 12": the supposition ends at the comma and the answer stands
    return bool(cues) and not any(c in before[cues[-1].end() :] for c in ",;:")


def withdrawn(text: str, end: int, next_start: int | None = None, start: int | None = None) -> bool:
    """The answer ending at ``end`` (starting at ``start``) is only supposed or asked about, or is rejected
    afterwards."""
    return (
        posed_as_question(text, end)
        or rejected(text, end, next_start)
        or (start is not None and hypothetical(text, start))
    )
