"""The 29 IFTrain constraints (Pyatkin et al., "Generalizing Verifiable Instruction Following", arXiv 2507.02833).

IFTrain is the set of training constraints that OLMo 2/3's IF-RLVR data adds to IFEval's 25 (open-instruct's
``IFEvalG`` registry, "New Constraints"). Each checker is ``check(response, kwargs) -> bool``; ``kwargs`` are the
row's arguments with null values dropped. A checker reads its arguments before it looks at the response and raises
:class:`BadGold` when one is missing or malformed, so :func:`kwargs_problem` can vet a gold without a response.
"Words" are ``str.split()`` pieces unless said otherwise; "rule sentences" are :func:`text.split_sentences_rule`;
"NLTK words" are :func:`text.word_tokenize`; "count of K" is the number of non-overlapping case-insensitive
occurrences of the literal text K (``re.findall`` with ``re.IGNORECASE``). ``N``-like numbers compare as numbers.

* copy:repeat_phrase (phrase, small_n) -- take the spans that run, within one line, from the phrase's first word,
  a space, anything (shortest), a space, to its last word, left to right without overlap. There are exactly
  ``small_n`` of them, and each has as many words as the phrase and differs from it in exactly one word.
* copy:copy, copy:copying_simple (prompt_to_repeat) -- the response, stripped and lowercased, is the prompt
  stripped and lowercased.
* new:copy_span_idx (prompt_to_repeat, n_start, n_end) -- likewise against the prompt's characters
  ``[n_start:n_end]`` (Python slice: the end index is not included).
* copy:copying_multiple (prompt_to_repeat, N) -- split on ``******``: exactly ``N`` pieces, each (stripped,
  lowercased) equal to the prompt (stripped, lowercased).
* detectable_format:sentence_hyphens -- pair the pieces of the response split on ``-`` with the rule sentences of
  the response with every ``-`` made a space (pairs up to the shorter list): every piece equals its sentence and
  has no surrounding whitespace.
* keywords:no_adjacent_consecutive -- no two neighbouring words whose first characters, lowercased, are
  consecutive code points (``b`` after ``a``, also ``2`` after ``1``); a first character whose lowercase is two
  characters fails.
* detectable_format:square_brackets -- every word starts with ``[`` and ends with ``]``.
* keywords:word_once (keyword) -- the count of the keyword is exactly 1.
* keywords:word_count_different_numbers (keyword, frequency, relation) -- the count of the keyword is
  ``< frequency`` ("less than") or ``>= frequency`` ("at least").
* keywords:exclude_word_harder (keyword) -- `` keyword `` (one space each side, case-sensitive) does not occur.
* paragraphs:paragraphs -- split on ``***`` with at most one whitespace character each side: empty pieces are
  allowed only first and last and are not counted; exactly 2 remain.
* paragraphs:paragraphs2 -- the same split on ``\\n\\n``.
* first_word:first_word_sent (first_word: a string, or a list whose first item is used) -- every rule sentence
  is non-blank and its first word equals ``first_word`` case-insensitively.
* first_word:first_word_answer (first_word) -- the first word equals ``first_word`` case-insensitively.
* last_word:last_word_sent (last_word: string or list) -- every rule sentence is non-blank and its last word with
  every character that is neither ``\\w`` nor whitespace removed equals ``last_word`` case-insensitively.
* last_word:last_word_answer (last_word) -- the same test on the response's last word.
* detectable_format:bigram_wrapping -- words 1, 3, 5, ... start with ``<<`` and the word after each ends with
  ``>>`` (a final unpaired word is free).
* punctuation:punctuation_dot / punctuation:punctuation_exclamation -- no ``.`` / no ``!`` at all.
* count:lowercase_counting (N) -- at most ``N`` matches of ``\\b[a-z]+\\b``.
* letters:letter_counting (N, relation) -- ASCII letters ``< N`` ("less than") or ``>= N`` ("at least").
* letters:letter_counting2 (letter, let_frequency, let_relation) -- the letter (one ASCII letter, either case)
  occurs in the lowercased response ``< let_frequency`` or ``>= let_frequency`` times.
* count:counting_composition (n_sent, n_words) -- split on ``***`` as paragraphs:paragraphs: no empty middle
  piece, every piece (a blank first or last one included, which therefore fails) has exactly ``n_sent`` rule
  sentences of exactly ``n_words`` NLTK words each, and there are 3 non-empty pieces. (The prompt says the divider
  is ``* * *``; the check splits on ``***``, and so do we.)
* count:count_unique -- no NLTK word occurs twice (case-sensitive).
* count:count_increment_word (keyword1, keyword2) -- the count of keyword1 is 1 and the count of keyword2 is 2.
* keywords:palindrome -- some word reads the same reversed (a one-character word such as "a" counts).
* keywords:keyword_specific_position (keyword: string or list, n, m) -- there are at least ``n`` rule sentences,
  sentence ``n`` has at least ``m`` NLTK words, and word ``m`` is the keyword (case-sensitive).
* keywords:start_end -- at least 2 NLTK words and the first equals the last case-insensitively.

Deliberate differences from the reference, each for a rule of this project's verifiers (never raise, never
reward a malformed gold, same verdict every run):

1. A missing, empty or mistyped argument is a bad gold: the constraint fails (and the RLVR gold check reports
   the row). The reference draws a random value then (a random phrase, keyword, letter, ``N`` or relation), so
   its verdict changes from run to run, or raises. The reference also reads a zero ``small_n``, ``N``,
   ``n_start``, ``n_end``, ``n_sent``, ``n_words``, ``n`` or ``m`` as "not given"; here 0 means 0 where it has a
   meaning (``n_start=0`` is the prompt's start; at most 0 lowercase words; fewer than / at least 0 letters) and
   is a bad gold where it has none (``small_n``, ``N`` copies, ``n_sent``, ``n_words``, ``n``, ``m``).
2. Keywords and phrase words are literal text. The reference uses them as regular expressions, so a keyword with
   ``.``, ``(``, ``+`` or ``?`` matches other text or raises; for keywords without such characters the counts
   are identical.
3. An argument a constraint does not take is ignored; the reference raises ``TypeError`` on it.
4. copy:repeat_phrase is a linear scan; the reference's regex ``first .*? last`` is quadratic in a long line that
   repeats the first word without the last one.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from rewards.iftrain.text import split_sentences_rule, word_tokenize

Checker = Callable[[str, Mapping[str, Any]], bool]
RELATIONS = ("less than", "at least")
_NOT_WORD_OR_SPACE = re.compile(r"[^\w\s]")
_LOWER_WORD = re.compile(r"\b[a-z]+\b")
_ASCII_LETTER = re.compile(r"[a-zA-Z]")
_STARS = re.compile(r"\s?\*\*\*\s?")


class BadGold(ValueError):
    """A constraint's arguments are missing or malformed."""


def _text(kwargs: Mapping[str, Any], name: str, *, first_of_list: bool = False) -> str:
    value = kwargs.get(name)
    if first_of_list and isinstance(value, (list, tuple)) and value:
        value = value[0]
    if not isinstance(value, str) or not value.strip():
        raise BadGold(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def _number(kwargs: Mapping[str, Any], name: str, *, minimum: int | None = None) -> int | float:
    value = kwargs.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise BadGold(f"{name} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise BadGold(f"{name} must be at least {minimum}, got {value!r}")
    return value


def _relation(kwargs: Mapping[str, Any], name: str) -> str:
    value = kwargs.get(name)
    if value not in RELATIONS:
        raise BadGold(f"{name} must be one of {RELATIONS}, got {value!r}")
    return value


def _compare(actual: int, relation: str, threshold: int | float) -> bool:
    return actual < threshold if relation == "less than" else actual >= threshold


def _count(keyword: str, text: str) -> int:
    return len(re.findall(re.escape(keyword), text, flags=re.IGNORECASE))


def _same_copy(response: str, original: str) -> bool:
    return response.strip().lower() == original.strip().lower()


def _phrase_spans(text: str, first: str, last: str) -> list[str]:
    """Non-overlapping leftmost-shortest spans ``first + " " + <no line break> + " " + last`` (linear scan)."""
    spans: list[str] = []
    for line in text.split("\n"):
        ends, at = [], line.find(" " + last)
        while at >= 0:  # start offsets of every " last" in the line, ascending
            ends.append(at)
            at = line.find(" " + last, at + 1)
        pos, k = 0, 0
        while (start := line.find(first + " ", pos)) >= 0:
            gap = start + len(first) + 1  # where the lazy ".*?" begins
            while k < len(ends) and ends[k] < gap:
                k += 1
            if k == len(ends):
                break
            end = ends[k] + 1 + len(last)
            spans.append(line[start:end])
            pos = end
        # a match may not start inside the previous one: find() from `pos` guarantees it
    return spans


def repeat_phrase(response: str, kwargs: Mapping[str, Any]) -> bool:
    phrase, times = _text(kwargs, "phrase").split(), _number(kwargs, "small_n", minimum=1)
    spans = _phrase_spans(response, phrase[0], phrase[-1])
    if len(spans) != times:
        return False
    for span in spans:
        words = span.split()
        if len(words) != len(phrase) or sum(a != b for a, b in zip(words, phrase, strict=True)) != 1:
            return False
    return True


def copy(response: str, kwargs: Mapping[str, Any]) -> bool:
    return _same_copy(response, _text(kwargs, "prompt_to_repeat"))


def copy_span_idx(response: str, kwargs: Mapping[str, Any]) -> bool:
    _text(kwargs, "prompt_to_repeat")
    start, end = (kwargs.get(k) for k in ("n_start", "n_end"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise BadGold(f"n_start and n_end must be integers, got {start!r} and {end!r}")
    return _same_copy(response, kwargs["prompt_to_repeat"][start:end])  # the unstripped prompt, as sliced there


def copying_multiple(response: str, kwargs: Mapping[str, Any]) -> bool:
    prompt, times = _text(kwargs, "prompt_to_repeat"), _number(kwargs, "N", minimum=1)
    pieces = response.split("******")
    return len(pieces) == times and all(_same_copy(p, prompt) for p in pieces)


def sentence_hyphens(response: str, kwargs: Mapping[str, Any]) -> bool:
    sentences = split_sentences_rule(response.replace("-", " "))
    pieces = response.split("-")
    return all(p == p.strip() and p == s for p, s in zip(pieces, sentences, strict=False))


def no_adjacent_consecutive(response: str, kwargs: Mapping[str, Any]) -> bool:
    words = response.split()
    for left, right in zip(words, words[1:], strict=False):
        a, b = left[0].lower(), right[0].lower()
        if len(a) != 1 or len(b) != 1 or ord(b) - ord(a) == 1:
            return False
    return True


def square_brackets(response: str, kwargs: Mapping[str, Any]) -> bool:
    return all(w.startswith("[") and w.endswith("]") for w in response.split())


def word_once(response: str, kwargs: Mapping[str, Any]) -> bool:
    return _count(_text(kwargs, "keyword"), response) == 1


def word_count_different_numbers(response: str, kwargs: Mapping[str, Any]) -> bool:
    keyword = _text(kwargs, "keyword")
    frequency, relation = _number(kwargs, "frequency", minimum=0), _relation(kwargs, "relation")
    return _compare(_count(keyword, response), relation, frequency)


def exclude_word_harder(response: str, kwargs: Mapping[str, Any]) -> bool:
    return f" {_text(kwargs, 'keyword')} " not in response


def _paragraphs(pieces: list[str]) -> int | None:
    """Non-empty pieces, or None when an empty piece is not first or last."""
    count = len(pieces)
    for i, piece in enumerate(pieces):
        if not piece.strip():
            if 0 < i < len(pieces) - 1:
                return None
            count -= 1
    return count


def paragraphs(response: str, kwargs: Mapping[str, Any]) -> bool:
    return _paragraphs(_STARS.split(response)) == 2


def paragraphs2(response: str, kwargs: Mapping[str, Any]) -> bool:
    return _paragraphs(response.split("\n\n")) == 2


def first_word_sent(response: str, kwargs: Mapping[str, Any]) -> bool:
    word = _text(kwargs, "first_word", first_of_list=True).lower()
    sentences = split_sentences_rule(response)
    return all(s.strip() and s.split()[0].lower() == word for s in sentences)


def first_word_answer(response: str, kwargs: Mapping[str, Any]) -> bool:
    word, words = _text(kwargs, "first_word").lower(), response.split()
    return bool(words) and words[0].lower() == word


def _bare(word: str) -> str:
    return _NOT_WORD_OR_SPACE.sub("", word).lower()


def last_word_sent(response: str, kwargs: Mapping[str, Any]) -> bool:
    word = _text(kwargs, "last_word", first_of_list=True).lower()
    sentences = split_sentences_rule(response)
    return all(s.strip() and _bare(s.split()[-1]) == word for s in sentences)


def last_word_answer(response: str, kwargs: Mapping[str, Any]) -> bool:
    word, words = _text(kwargs, "last_word").lower(), response.split()
    return bool(words) and _bare(words[-1]) == word


def bigram_wrapping(response: str, kwargs: Mapping[str, Any]) -> bool:
    words = response.split()
    return all(words[i].startswith("<<") and words[i + 1].endswith(">>") for i in range(0, len(words) - 1, 2))


def punctuation_dot(response: str, kwargs: Mapping[str, Any]) -> bool:
    return "." not in response


def punctuation_exclamation(response: str, kwargs: Mapping[str, Any]) -> bool:
    return "!" not in response


def lowercase_counting(response: str, kwargs: Mapping[str, Any]) -> bool:
    limit = _number(kwargs, "N", minimum=0)
    return sum(1 for _ in _LOWER_WORD.finditer(response)) <= limit


def letter_counting(response: str, kwargs: Mapping[str, Any]) -> bool:
    threshold, relation = _number(kwargs, "N", minimum=0), _relation(kwargs, "relation")
    return _compare(sum(1 for _ in _ASCII_LETTER.finditer(response)), relation, threshold)


def letter_counting2(response: str, kwargs: Mapping[str, Any]) -> bool:
    letter = kwargs.get("letter")
    if not isinstance(letter, str) or len(letter) != 1 or letter not in string.ascii_letters:
        raise BadGold(f"letter must be one ASCII letter, got {letter!r}")
    frequency = _number(kwargs, "let_frequency", minimum=0)
    relation = _relation(kwargs, "let_relation")
    return _compare(response.lower().count(letter.lower()), relation, frequency)


def counting_composition(response: str, kwargs: Mapping[str, Any]) -> bool:
    n_sent, n_words = _number(kwargs, "n_sent", minimum=1), _number(kwargs, "n_words", minimum=1)
    pieces = _STARS.split(response)
    if _paragraphs(pieces) != 3:
        return False
    for piece in pieces:
        sentences = split_sentences_rule(piece)
        if len(sentences) != n_sent or any(len(word_tokenize(s)) != n_words for s in sentences):
            return False
    return True


def count_unique(response: str, kwargs: Mapping[str, Any]) -> bool:
    words = word_tokenize(response)
    return len(words) == len(set(words))


def count_increment_word(response: str, kwargs: Mapping[str, Any]) -> bool:
    once, twice = _text(kwargs, "keyword1"), _text(kwargs, "keyword2")
    return _count(once, response) == 1 and _count(twice, response) == 2


def palindrome(response: str, kwargs: Mapping[str, Any]) -> bool:
    return any(w == w[::-1] for w in response.split())


def keyword_specific_position(response: str, kwargs: Mapping[str, Any]) -> bool:
    keyword = _text(kwargs, "keyword", first_of_list=True)
    n, m = _number(kwargs, "n", minimum=1), _number(kwargs, "m", minimum=1)
    if not (isinstance(n, int) and isinstance(m, int)):
        raise BadGold(f"n and m must be whole numbers, got {n!r} and {m!r}")
    sentences = split_sentences_rule(response)
    if len(sentences) < n:
        return False
    words = word_tokenize(sentences[n - 1])
    return len(words) >= m and words[m - 1] == keyword


def start_end(response: str, kwargs: Mapping[str, Any]) -> bool:
    words = word_tokenize(response)
    return len(words) >= 2 and words[0].lower() == words[-1].lower()


CHECKERS: dict[str, Checker] = {
    "copy:repeat_phrase": repeat_phrase,
    "copy:copy": copy,
    "new:copy_span_idx": copy_span_idx,
    "detectable_format:sentence_hyphens": sentence_hyphens,
    "keywords:no_adjacent_consecutive": no_adjacent_consecutive,
    "detectable_format:square_brackets": square_brackets,
    "keywords:word_once": word_once,
    "keywords:word_count_different_numbers": word_count_different_numbers,
    "keywords:exclude_word_harder": exclude_word_harder,
    "paragraphs:paragraphs": paragraphs,
    "paragraphs:paragraphs2": paragraphs2,
    "first_word:first_word_sent": first_word_sent,
    "first_word:first_word_answer": first_word_answer,
    "last_word:last_word_sent": last_word_sent,
    "last_word:last_word_answer": last_word_answer,
    "detectable_format:bigram_wrapping": bigram_wrapping,
    "copy:copying_simple": copy,
    "copy:copying_multiple": copying_multiple,
    "punctuation:punctuation_dot": punctuation_dot,
    "punctuation:punctuation_exclamation": punctuation_exclamation,
    "count:lowercase_counting": lowercase_counting,
    "letters:letter_counting": letter_counting,
    "letters:letter_counting2": letter_counting2,
    "count:counting_composition": counting_composition,
    "count:count_unique": count_unique,
    "count:count_increment_word": count_increment_word,
    "keywords:palindrome": palindrome,
    "keywords:keyword_specific_position": keyword_specific_position,
    "keywords:start_end": start_end,
}


def kwargs_problem(instruction_id: str, kwargs: Mapping[str, Any]) -> str | None:
    """Why the arguments of an IFTrain constraint are unusable (deliberate difference 1), or None."""
    try:
        CHECKERS[instruction_id]("x", kwargs)
    except BadGold as err:
        return str(err)
    except Exception:  # noqa: BLE001 - only argument problems are reported here
        return None
    return None
