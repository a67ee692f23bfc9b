"""The 25 IFEval instruction checkers (Zhou et al., arXiv 2311.07911), one function per id.

Each checker is ``check(response, kwargs, prompt) -> bool`` and follows the published definition:

* keywords:existence -- every keyword occurs, case-insensitively (as a literal string).
* keywords:frequency -- case-insensitive occurrences of ``keyword`` are ``< frequency`` ("less than")
  or ``>= frequency`` ("at least"); the same two relations are used by every counting checker.
* keywords:forbidden_words -- no forbidden word occurs as a whole word (``\\b`` on both sides).
* keywords:letter_frequency -- occurrences of ``letter`` in the lowercased response. Deterministic
  rule for non-letters: the given character is counted literally (keys 1122 and 1129 ask for ``#`` and
  ``!``; Google's 2023 code drew a random letter there instead). An empty or multi-character letter fails.
* language:response_language -- langdetect (seeded, see ``language``) says ``language``; undecidable
  text passes, as in IFEval.
* length_constraints:number_paragraphs -- split on ``***`` with optional surrounding whitespace; empty
  first/last pieces are dropped, an empty middle piece fails; the count must equal ``num_paragraphs``.
* length_constraints:number_words / number_sentences -- ``text.count_words`` / ``text.count_sentences``.
* length_constraints:nth_paragraph_first_word -- paragraphs split on ``\\n\\n``, empty ones not counted;
  the count must equal ``num_paragraphs`` and paragraph ``nth_paragraph`` must start with ``first_word``
  (case-insensitive, leading quotes dropped, cut at the first ``. , ? ! ' "``).
* detectable_content:postscript -- a line contains the marker (lowercased; ``P.S.`` and ``P.P.S``
  allow one optional space after each period).
* detectable_content:number_placeholders -- at least N ``[...]`` spans that do not cross a line break.
* detectable_format:number_bullet_lists -- exactly N lines starting with ``* `` (not ``**``) or ``-``.
* detectable_format:constrained_response -- contains "My answer is yes.", "... no." or "... maybe.".
* detectable_format:number_highlighted_sections -- at least N non-blank ``*x*`` plus ``**x**`` spans.
* detectable_format:multiple_sections -- at least N splits on ``<splitter> <number>`` (case-sensitive).
* detectable_format:json_format -- parses as JSON after removing a markdown code fence.
* detectable_format:title -- a line holds ``<<title>>`` with non-blank text.
* combination:repeat_prompt -- starts with ``prompt_to_repeat`` (case-insensitive, both stripped).
* combination:two_responses -- exactly two non-empty, different parts around ``******``.
* change_case:english_capital / english_lowercase -- ``str.isupper()`` / ``str.islower()`` and English.
* change_case:capital_word_frequency -- all-caps Treebank tokens (``text.word_tokenize``) vs N.
* startend:end_checker -- ends with ``end_phrase`` after stripping whitespace and ``"`` (case-insensitive).
* startend:quotation -- stripped response is at least 2 characters and wrapped in ``"``.
* punctuation:no_comma -- no ``,``.

All scans are linear in the response length (no pattern here can backtrack catastrophically).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from rewards.ifeval.language import detect_language
from rewards.ifeval.text import count_bracket_spans, count_sentences, count_words, word_tokenize

Checker = Callable[[str, Mapping[str, Any], str], bool]

CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
_PARAGRAPH_DIVIDER = re.compile(r"\s?\*\*\*\s?")
_SINGLE_HIGHLIGHT = re.compile(r"\*[^\n*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n*]*\*\*")
_PS = re.compile(r"p\.\s?s\.")
_PPS = re.compile(r"p\.\s?p\.\s?s")
_FIRST_WORD_STOP = frozenset(".,?!'\"")
_CODE_FENCES = ("```json", "```Json", "```JSON", "```")


def _compare(actual: int, relation: str, threshold: int) -> bool:
    """IFEval's two relations: "less than" means ``<``, "at least" means ``>=``."""
    if relation == "less than":
        return actual < threshold
    if relation == "at least":
        return actual >= threshold
    raise ValueError(f"unknown relation {relation!r}")


def keywords_existence(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    low = response.lower()
    return all(str(k).lower() in low for k in kw["keywords"])


def keywords_frequency(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    keyword = str(kw["keyword"]).strip().lower()
    if not keyword:
        raise ValueError("empty keyword")
    return _compare(response.lower().count(keyword), kw["relation"], int(kw["frequency"]))


def forbidden_words(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    return not any(
        re.search(r"\b" + re.escape(str(w)) + r"\b", response, flags=re.IGNORECASE) for w in kw["forbidden_words"]
    )


def letter_frequency(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    letter = str(kw["letter"]).strip().lower()
    if len(letter) != 1:
        raise ValueError(f"letter must be one character, got {kw['letter']!r}")
    return _compare(response.lower().count(letter), kw["let_relation"], int(kw["let_frequency"]))


def response_language(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    found = detect_language(response)
    return found is None or found == kw["language"]


def number_paragraphs(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    pieces = _PARAGRAPH_DIVIDER.split(response)
    count = len(pieces)
    for index, piece in enumerate(pieces):
        if not piece.strip():
            if index in (0, len(pieces) - 1):
                count -= 1
            else:
                return False
    return count == int(kw["num_paragraphs"])


def number_words(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    return _compare(count_words(response), kw["relation"], int(kw["num_words"]))


def number_sentences(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    return _compare(count_sentences(response), kw["relation"], int(kw["num_sentences"]))


def nth_paragraph_first_word(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    paragraphs = response.split("\n\n")
    count = sum(1 for p in paragraphs if p.strip())
    nth = int(kw["nth_paragraph"])
    if not 1 <= nth <= count:
        return False
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first = []
    for ch in word:
        if ch in _FIRST_WORD_STOP:
            break
        first.append(ch.lower())
    return count == int(kw["num_paragraphs"]) and "".join(first) == str(kw["first_word"]).lower()


def postscript(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    marker = str(kw["postscript_marker"]).strip()
    low = response.lower()
    if marker == "P.P.S":
        return _PPS.search(low) is not None
    if marker == "P.S.":
        return _PS.search(low) is not None
    return marker.lower() in low


def number_placeholders(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    return count_bracket_spans(response) >= int(kw["num_placeholders"])


def number_bullet_lists(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    """Lines whose first non-space character is ``-``, plus ``*`` lines not followed by ``*``.

    A line that is only ``*`` swallows the next line (the reference pattern's ``[^*]`` matches the
    line break), so that next line is not counted as a star bullet.
    """
    lines = response.split("\n")
    stars = dashes = 0
    skip = False
    for index, line in enumerate(lines):
        body = line.lstrip()
        if body.startswith("-"):
            dashes += 1
        if skip:
            skip = False
            continue
        if body.startswith("*"):
            if len(body) > 1 and body[1] != "*":
                stars += 1
            elif body == "*" and index + 1 < len(lines):
                stars += 1
                skip = True
    return stars + dashes == int(kw["num_bullets"])


def constrained_response(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    options = kw.get("options") or CONSTRAINED_RESPONSE_OPTIONS
    value = response.strip()
    return any(str(option) in value for option in options)


def highlighted_sections(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    count = sum(1 for h in _SINGLE_HIGHLIGHT.findall(response) if h.strip("*").strip())
    count += sum(1 for h in _DOUBLE_HIGHLIGHT.findall(response) if h[2:-2].strip())
    return count >= int(kw["num_highlights"])


def multiple_sections(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    splitter = str(kw["section_spliter"]).strip()
    pattern = re.compile(r"\s?" + re.escape(splitter) + r"\s?\d+\s?")
    return len(pattern.split(response)) - 1 >= int(kw["num_sections"])


def json_format(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    value = response.strip()
    for fence in _CODE_FENCES:
        value = value.removeprefix(fence)
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return False
    return True


def title(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    """A line with ``<<`` ... ``>>`` (greedy, so from the first ``<<`` to the last ``>>``)."""
    for line in response.split("\n"):
        start = line.find("<<")
        if start < 0:
            continue
        end = line.rfind(">>")
        if end >= start + 3 and line[start : end + 2].lstrip("<").rstrip(">").strip():
            return True
    return False


def repeat_prompt(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    target = str(kw["prompt_to_repeat"]).strip().lower()
    if not target:
        raise ValueError("prompt_to_repeat must be set")
    return response.strip().lower().startswith(target)


def two_responses(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    parts = response.split("******")
    kept = []
    for index, part in enumerate(parts):
        if part.strip():
            kept.append(part.strip())
        elif index not in (0, len(parts) - 1):
            return False
    return len(kept) == 2 and kept[0] != kept[1]


def english_capital(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    if not response.isupper():
        return False
    found = detect_language(response)
    return found is None or found == "en"


def english_lowercase(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    if not response.islower():
        return False
    found = detect_language(response)
    return found is None or found == "en"


def capital_word_frequency(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    capitals = sum(1 for token in word_tokenize(response) if token.isupper())
    return _compare(capitals, kw["capital_relation"], int(kw["capital_frequency"]))


def end_checker(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    phrase = str(kw["end_phrase"]).strip().lower()
    return response.strip().strip('"').lower().endswith(phrase)


def quotation(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    value = response.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


def no_comma(response: str, kw: Mapping[str, Any], prompt: str) -> bool:
    return "," not in response


CHECKERS: dict[str, Checker] = {
    "keywords:existence": keywords_existence,
    "keywords:frequency": keywords_frequency,
    "keywords:forbidden_words": forbidden_words,
    "keywords:letter_frequency": letter_frequency,
    "language:response_language": response_language,
    "length_constraints:number_paragraphs": number_paragraphs,
    "length_constraints:number_words": number_words,
    "length_constraints:number_sentences": number_sentences,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "detectable_content:postscript": postscript,
    "detectable_content:number_placeholders": number_placeholders,
    "detectable_format:number_bullet_lists": number_bullet_lists,
    "detectable_format:constrained_response": constrained_response,
    "detectable_format:number_highlighted_sections": highlighted_sections,
    "detectable_format:multiple_sections": multiple_sections,
    "detectable_format:json_format": json_format,
    "detectable_format:title": title,
    "combination:repeat_prompt": repeat_prompt,
    "combination:two_responses": two_responses,
    "change_case:english_capital": english_capital,
    "change_case:english_lowercase": english_lowercase,
    "change_case:capital_word_frequency": capital_word_frequency,
    "startend:end_checker": end_checker,
    "startend:quotation": quotation,
    "punctuation:no_comma": no_comma,
}
