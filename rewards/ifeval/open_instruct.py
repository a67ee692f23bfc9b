"""Judge open-instruct's RLVR IFEval rows (``{"func_name": ..., <kwargs>}``) as open-instruct judges them.

Reference: open-instruct's ``open_instruct/if_functions.py`` (the 25 functions of ``IF_FUNCTIONS_MAP``), called
by ``IFEvalVerifierOld`` in ``open_instruct/ground_truth_utils.py`` (``verify_ifeval_sample`` in the Tulu 3
release): null-valued keys are dropped, the rest are the function's keyword arguments, and the response is the
completion with ``<|assistant|>`` removed, only the text after the last ``</think>`` kept, ``<answer>`` and
``</answer>`` removed, and whitespace stripped. These rows (``allenai/RLVR-IFeval``, and ours from
``tulu_recipes/generation``) are NOT Google's IFEval: the functions count and split differently, so they are
reimplemented here rather than translated to IFEval's checkers. Each function, with ``text`` the response:

* verify_keywords -- every keyword of ``keyword_list`` is a substring of ``text``, case-insensitively.
* verify_keyword_frequency -- ``\\w+`` tokens of the lowercased text equal to ``word.lower()``: exactly ``N``
  (so "cats" is not "cat", and a ``word`` with a space never matches).
* validate_forbidden_words -- no forbidden word is a substring of ``text``, case-insensitively.
* verify_letter_frequency -- ``text.count(letter) == N``, case-sensitive; ``letter`` must be one character.
* validate_response_language -- langdetect's verdict equals ``language``.
* verify_paragraph_count -- every line stripped, the whole stripped, split on the divider ``* * *``: exactly ``N``
  pieces, none blank (``***`` is not the divider).
* validate_word_constraint -- ``len(text.split())`` is ``>= N`` ("at least"), ``<= N`` ("at most") or within
  ``max(round(N / 10), 1)`` of ``N`` ("around", Python's round-half-even); another quantifier fails.
* verify_sentence_constraint -- pieces of ``re.split`` at a whitespace character after ``. ? !`` (not after
  ``x.y.`` or ``Ab.``), with the same quantifiers and a tolerance of 1 for "around".
* validate_paragraphs -- ``text.split("\\n\\n")`` has exactly ``N`` pieces (blank ones count) and piece ``i``
  (1-based), stripped, starts with ``first_word`` (case-sensitive, a plain prefix: "The" matches "Then").
* verify_postscript -- ``postscript_marker`` occurs (case-sensitive) and something follows its first occurrence.
* validate_placeholders -- at least ``N`` ``[...]`` spans, as ``re.findall(r"\\[(.*?)\\]")`` finds them.
* verify_bullet_points -- exactly ``N`` lines whose stripped text starts with ``*`` or ``-``.
* validate_title -- some line holds ``<<`` and, after it, ``>>`` (an empty title counts).
* validate_choice -- some option is a substring of ``text``.
* validate_highlighted_sections -- at least ``N`` ``*...*`` spans as ``re.findall(r"\\*(.*?)\\*")`` finds them,
  i.e. half the ``*`` of each line, rounded down (``**bold**`` is two).
* validate_sections -- ``text.split(section_splitter)``, a leading empty piece dropped: exactly ``N`` pieces.
* validate_json_format -- ``json.loads(text)`` succeeds (no code fence allowed).
* validate_repeat_prompt -- ``text`` starts with ``original_prompt`` (case-sensitive).
* validate_two_responses -- ``******`` occurs exactly once (non-overlapping) and the stripped halves differ.
* validate_uppercase / validate_lowercase -- ``text == text.upper()`` / ``text == text.lower()``.
* validate_frequency_capital_words -- matches of ``\\b[A-Z]+\\b`` against ``N`` with the word quantifiers.
* validate_end -- ``text.endswith(end_phrase)`` (case-sensitive).
* validate_quotation -- ``text`` starts and ends with ``"``.
* validate_no_commas -- no ``,``.

Version: open-instruct's current ``if_functions`` (after its fix #1683). The Tulu 3 release differed in three
places, all bugs fixed since: ``validate_choice`` tested ``text in option`` (the whole response inside an option),
capital words "around" meant exactly ``N``, and ``!`` did not end a sentence.

Deliberate differences from open-instruct, each for a rule of this project's verifiers:

1. Never raise, never reward bad input: where open-instruct raises (a missing, unknown or mistyped argument, a
   ``letter`` that is not one character, paragraph ``i`` beyond ``N``, deeply nested JSON) the row scores 0; so do
   ground truths that open-instruct would accept vacuously: an empty ``keyword_list``, option list,
   ``section_splitter``, ``original_prompt``, ``end_phrase``, ``postscript_marker`` or ``first_word``, and a
   paragraph ``i`` below 1 (open-instruct reads ``i = 0`` as the last paragraph). ``N`` may be an integral float
   or a string of digits (read as that number).
2. An empty response (after the answer extraction above) scores 0; open-instruct's ``IFEvalVerifierOld`` would
   pass it on e.g. ``validate_no_commas`` (its newer ``IFEvalVerifier`` scores it 0, as we do).
3. ``validate_choice`` options given as one string (e.g. ``"('My answer is yes.', 'My answer is no.')"``) are
   the quoted options in it, or the whole string when none is quoted; open-instruct iterates such a string
   character by character, so nearly any response passed (one holding a space, say). Hedging scores 0: a
   response that contains two or more different options, each as a whole word (not inside a longer option that
   also occurs), fails, where open-instruct passes it; otherwise RL learns to print every option.
4. ``keyword_list`` / ``forbidden_words`` given as one string are one keyword (open-instruct iterates its
   characters).
5. ``validate_response_language`` uses langdetect's algorithm seeded with 0 (``language.detect_language``), so a
   verdict is the same in every run and thread; open-instruct calls the unseeded ``langdetect.detect``. Text
   langdetect cannot decide (no letters) scores 0, where open-instruct raises.
6. ``validate_placeholders``, ``validate_title`` and ``validate_highlighted_sections`` are linear scans with the
   regexes' exact counts (``re.findall(r"\\[(.*?)\\]")`` is quadratic on a line of ``[``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rewards.ifeval.language import detect_language
from rewards.ifeval.text import count_bracket_spans

_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_WORD = re.compile(r"\w+")
_SENTENCE_GAP = re.compile(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=\.|\?|!)\s")
_CAPITAL_WORD = re.compile(r"\b[A-Z]+\b")


def extract_answer(completion: str) -> str:
    """The text open-instruct judges: ``<|assistant|>`` removed, after the last ``</think>``, answer tags removed."""
    text = completion.replace("<|assistant|>", "").strip().split("</think>")[-1]
    return text.replace("<answer>", "").replace("</answer>", "").strip()


def _whole(value: Any) -> int:
    """``N`` as an int: an int, an integral float or a string of digits."""
    if isinstance(value, bool):
        raise ValueError(f"bad N {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(f"bad N {value!r}")


def _nonempty(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _strings(value: Any, name: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    if not items or not all(isinstance(v, str) and v for v in items):
        raise ValueError(f"{name} must be non-empty strings, got {value!r}")
    return items


def _quantified(actual: int, n: Any, quantifier: Any, tolerance: int | None = None) -> bool:
    n = _whole(n)
    if quantifier == "at least":
        return actual >= n
    if quantifier == "at most":
        return actual <= n
    if quantifier == "around":
        return abs(actual - n) <= (max(round(n * 0.1), 1) if tolerance is None else tolerance)
    return False


def verify_keywords(text: str, keyword_list: Any) -> bool:
    low = text.lower()
    return all(k.lower() in low for k in _strings(keyword_list, "keyword_list"))


def verify_keyword_frequency(text: str, word: Any, N: Any) -> bool:
    target = _nonempty(word, "word").lower()
    return sum(1 for m in _WORD.finditer(text.lower()) if m.group() == target) == _whole(N)


def validate_forbidden_words(text: str, forbidden_words: Any) -> bool:
    low = text.lower()
    return not any(w.lower() in low for w in _strings(forbidden_words, "forbidden_words"))


def verify_letter_frequency(text: str, letter: Any, N: Any) -> bool:
    if not isinstance(letter, str) or len(letter) != 1:
        raise ValueError(f"letter must be one character, got {letter!r}")
    return text.count(letter) == _whole(N)


def validate_response_language(text: str, language: Any) -> bool:
    return detect_language(text) == _nonempty(language, "language")


def verify_paragraph_count(text: str, N: Any) -> bool:
    cleaned = "\n".join(line.strip() for line in text.splitlines()).strip()
    pieces = cleaned.split("* * *")
    return all(p.strip() for p in pieces) and len(pieces) == _whole(N)


def validate_word_constraint(text: str, N: Any, quantifier: Any) -> bool:
    return _quantified(len(text.split()), N, quantifier)


def verify_sentence_constraint(text: str, N: Any, quantifier: Any) -> bool:
    return _quantified(len(_SENTENCE_GAP.split(text)), N, quantifier, tolerance=1)


def validate_paragraphs(text: str, N: Any, first_word: Any, i: Any) -> bool:
    n, index, word = _whole(N), _whole(i), _nonempty(first_word, "first_word")
    if not 1 <= index <= n:
        raise ValueError(f"paragraph i={index} is not one of the N={n} paragraphs")
    pieces = text.split("\n\n")
    return len(pieces) == n and pieces[index - 1].strip().startswith(word)


def verify_postscript(text: str, postscript_marker: Any) -> bool:
    marker = _nonempty(postscript_marker, "postscript_marker")
    at = text.find(marker)
    return at >= 0 and len(text[at:].strip()) > len(marker)


def validate_placeholders(text: str, N: Any) -> bool:
    return count_bracket_spans(text) >= _whole(N)


def verify_bullet_points(text: str, N: Any) -> bool:
    return sum(1 for line in text.split("\n") if line.strip().startswith(("*", "-"))) == _whole(N)


def validate_title(text: str) -> bool:
    for line in text.split("\n"):
        start = line.find("<<")
        if start >= 0 and line.find(">>", start + 2) >= 0:
            return True
    return False


def choice_options(options: Any) -> list[str]:
    """The options of a ``validate_choice`` row: a list, or the quoted options of one string (see docstring)."""
    if isinstance(options, str):
        quoted = [a or b for a, b in _QUOTED.findall(options)]
        options = quoted or [options]
    return _strings(options, "options")


def _whole_word(option: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(option) + r"(?!\w)")


def validate_choice(text: str, options: Any) -> bool:
    found = sorted({o for o in choice_options(options) if o in text}, key=len, reverse=True)
    if not found:
        return False
    rest, committed = text, 0
    for option in found:  # longest first, so an option inside a longer one that occurs is not a second answer
        rest, hits = _whole_word(option).subn("\0", rest)
        committed += hits > 0
    return committed <= 1


def validate_highlighted_sections(text: str, N: Any) -> bool:
    return sum(line.count("*") // 2 for line in text.split("\n")) >= _whole(N)


def validate_sections(text: str, N: Any, section_splitter: Any) -> bool:
    pieces = text.split(_nonempty(section_splitter, "section_splitter"))
    if pieces[0] == "":
        pieces.pop(0)
    return len(pieces) == _whole(N)


def validate_json_format(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def validate_repeat_prompt(text: str, original_prompt: Any) -> bool:
    return text.startswith(_nonempty(original_prompt, "original_prompt"))


def validate_two_responses(text: str) -> bool:
    if text.count("******") != 1:
        return False
    first, second = text.split("******")
    return first.strip() != second.strip()


def validate_uppercase(text: str) -> bool:
    return text == text.upper()


def validate_lowercase(text: str) -> bool:
    return text == text.lower()


def validate_frequency_capital_words(text: str, N: Any, quantifier: Any) -> bool:
    return _quantified(sum(1 for _ in _CAPITAL_WORD.finditer(text)), N, quantifier)


def validate_end(text: str, end_phrase: Any) -> bool:
    return text.endswith(_nonempty(end_phrase, "end_phrase"))


def validate_quotation(text: str) -> bool:
    return text.startswith('"') and text.endswith('"')


def validate_no_commas(text: str) -> bool:
    return "," not in text


FUNCTIONS: dict[str, Callable[..., bool]] = {
    f.__name__: f
    for f in (
        verify_keywords,
        verify_keyword_frequency,
        validate_forbidden_words,
        verify_letter_frequency,
        validate_response_language,
        verify_paragraph_count,
        validate_word_constraint,
        verify_sentence_constraint,
        validate_paragraphs,
        verify_postscript,
        validate_placeholders,
        verify_bullet_points,
        validate_title,
        validate_choice,
        validate_highlighted_sections,
        validate_sections,
        validate_json_format,
        validate_repeat_prompt,
        validate_two_responses,
        validate_uppercase,
        validate_lowercase,
        validate_frequency_capital_words,
        validate_end,
        validate_quotation,
        validate_no_commas,
    )
}
FUNCTION_NAMES = tuple(FUNCTIONS)


def check(
    completion: str, ground_truth: Mapping[str, Any], *, variants: Callable[[str], Iterable[str]] | None = None
) -> bool:
    """Whether ``completion`` follows the open-instruct constraint ``ground_truth`` (a dict with ``func_name``).

    ``variants`` maps the extracted answer to the texts to try (IFEval's loose mode); any one passing is enough.
    Raises (KeyError, TypeError, ValueError) on a malformed ground truth; ``rewards.ifeval.verify`` turns that into 0.
    """
    kwargs = {k: v for k, v in ground_truth.items() if v is not None and k != "func_name"}
    function = FUNCTIONS[ground_truth["func_name"]]
    answer = extract_answer(completion)
    texts = [answer] if variants is None else list(variants(answer))
    return any(bool(function(text, **kwargs)) for text in texts if text.strip())
