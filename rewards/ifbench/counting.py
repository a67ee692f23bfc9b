"""IFBench's counting and ratio constraints (``count:*``, ``ratio:*``): 14 of the 58.

Each checker is ``check(response, kwargs) -> bool``; "words" are defined per rule below, sentences and tokens
are those of :mod:`rewards.ifbench.text`, "punctuation" is ASCII punctuation (``string.punctuation``).

* count:word_count_range -- ``min_words <= count_words <= max_words`` (``\\w+`` runs).
* count:unique_word_count -- the distinct whitespace-separated words, lower-cased and edge-stripped of punctuation
  and spaces, number at least ``N``. A token of punctuation only strips to the empty word, which counts once too.
* ratio:stop_words -- at least one ``\\w+`` run, and stop-word runs are at most ``percentage`` % of them.
* ratio:sentence_type -- sentences ending in ``.`` number exactly twice those ending in ``?``.
* ratio:sentence_balance -- as many sentences end in ``.`` as in ``?`` as in ``!``.
* count:conjunctions -- at least ``small_n`` distinct whitespace tokens, compared as written (case and punctuation
  kept, so "and" and "And," are two), that are one of and/but/for/nor/or/so/yet once edge-stripped and lower-cased.
* count:person_names -- at least ``N`` of the 50 listed first names occur as whole words (``\\b``, case-sensitive).
* ratio:overlap -- over the sets of 3-character substrings (character trigrams) of the response and of
  ``reference_text``: the response has one, and the share of its trigrams found in the reference, in percent, is
  within ``percentage`` +- 2.
* count:numbers -- after removing punctuation, exactly ``N`` maximal digit runs (so "3.5" is one number, "35").
* count:punctuation -- holds ``?!``, ``!?`` or the interrobang; after removing the first ``?!`` (or, when there is
  none, the first ``!?``), each of ``. , ! ? ; :`` still occurs.
* count:words_japanese -- every ``N``-th whitespace token (``N``, ``2N``, ...), edge-stripped, that is neither
  empty nor all digits holds a Hiragana, Katakana or CJK ideograph character (U+3040-U+30FF, U+4E00-U+9FFF).
* ratio:sentence_words -- exactly 3 sentences, all with the same number of characters once stripped.
* count:pronouns -- at least ``N`` tokens of the lower-cased response (``/`` read as a space, so "she/her" is two)
  are in the English pronoun list below.
* count:keywords_multiple -- the lower-cased response holds ``keyword1`` .. ``keyword5`` (stripped, lower-cased)
  exactly 1, 2, 3, 5 and 7 times as substrings (non-overlapping).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from rewards.ifbench import args
from rewards.ifbench.text import (
    count_stopwords,
    count_words,
    drop_punctuation,
    edge_strip,
    split_sentences,
    word_tokens,
)

Checker = Callable[[str, Mapping[str, Any]], bool]

CONJUNCTIONS = frozenset({"and", "but", "for", "nor", "or", "so", "yet"})
PERSON_NAMES = (
    "Emma Liam Sophia Jackson Olivia Noah Ava Lucas Isabella Mason Mia Ethan Charlotte Alexander Amelia Benjamin "
    "Harper Leo Zoe Daniel Chloe Samuel Lily Matthew Grace Owen Abigail Gabriel Ella Jacob Scarlett Nathan Victoria "
    "Elijah Layla Nicholas Audrey David Hannah Christopher Penelope Thomas Nora Andrew Aria Joseph Claire Ryan Stella "
    "Jonathan"
).split()
_NAME_PATTERNS = tuple(re.compile(r"\b" + name + r"\b") for name in PERSON_NAMES)
PRONOUNS = frozenset(
    """
    i me we us you he him she her it they them my mine our ours your yours his hers its their theirs myself ourselves
    yourself yourselves himself herself itself themselves this that these those who whom whose which what whoever
    whomever whatever whichever anybody anyone anything everybody everyone everything nobody nothing somebody someone
    something each either neither both all some any none
    """.split()
)
_JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
_DIGITS = re.compile(r"\d+")
_PUNCTUATION_MARKS = frozenset(".,!?;:")
_KEYWORD_TIMES = (("keyword1", 1), ("keyword2", 2), ("keyword3", 3), ("keyword4", 5), ("keyword5", 7))


def word_count_range(response: str, kw: Mapping[str, Any]) -> bool:
    low, high = args.count(kw, "min_words"), args.count(kw, "max_words")
    return low <= count_words(response) <= high


def unique_word_count(response: str, kw: Mapping[str, Any]) -> bool:
    return len({edge_strip(word) for word in response.lower().split()}) >= args.count(kw, "N")


def stop_words(response: str, kw: Mapping[str, Any]) -> bool:
    limit = args.percentage(kw)
    total = count_words(response)
    return total > 0 and count_stopwords(response) / total * 100 <= limit


def _endings(response: str) -> tuple[int, int, int]:
    sentences = split_sentences(response)
    return tuple(sum(1 for s in sentences if s.endswith(mark)) for mark in ".?!")  # type: ignore[return-value]


def sentence_type(response: str, kw: Mapping[str, Any]) -> bool:
    statements, questions, _ = _endings(response)
    return statements == 2 * questions


def sentence_balance(response: str, kw: Mapping[str, Any]) -> bool:
    statements, questions, exclamations = _endings(response)
    return statements == questions == exclamations


def conjunctions(response: str, kw: Mapping[str, Any]) -> bool:
    found = {token for token in response.split() if edge_strip(token).lower() in CONJUNCTIONS}
    return len(found) >= args.count(kw, "small_n")


def person_names(response: str, kw: Mapping[str, Any]) -> bool:
    return sum(1 for pattern in _NAME_PATTERNS if pattern.search(response)) >= args.count(kw, "N")


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def overlap(response: str, kw: Mapping[str, Any]) -> bool:
    target = args.percentage(kw)
    reference = kw.get("reference_text")
    if not isinstance(reference, str):
        raise ValueError("reference_text must be a string")
    mine = _trigrams(response)
    if not mine:
        return False
    share = len(mine & _trigrams(reference)) / len(mine)
    return target - 2 <= share * 100 <= target + 2


def numbers(response: str, kw: Mapping[str, Any]) -> bool:
    return len(_DIGITS.findall(drop_punctuation(response))) == args.count(kw, "N")


def punctuation(response: str, kw: Mapping[str, Any]) -> bool:
    if "?!" in response:
        rest = response.replace("?!", "", 1)
    elif "!?" in response:
        rest = response.replace("!?", "", 1)
    elif "\u203d" in response:
        rest = response
    else:
        return False
    return _PUNCTUATION_MARKS <= set(rest)


def words_japanese(response: str, kw: Mapping[str, Any]) -> bool:
    step = args.count(kw, "N", minimum=1)
    for token in response.split()[step - 1 :: step]:
        word = edge_strip(token)
        if word and not word.isdigit() and not _JAPANESE.search(word):
            return False
    return True


def sentence_words(response: str, kw: Mapping[str, Any]) -> bool:
    sentences = split_sentences(response)
    return len(sentences) == 3 and len({len(s.strip()) for s in sentences}) == 1


def pronouns(response: str, kw: Mapping[str, Any]) -> bool:
    tokens = word_tokens(response.replace("/", " ").lower())
    return sum(1 for token in tokens if token in PRONOUNS) >= args.count(kw, "N")


def keywords_multiple(response: str, kw: Mapping[str, Any]) -> bool:
    low = response.lower()
    wanted = [(args.text(kw, key, strip=True).lower(), times) for key, times in _KEYWORD_TIMES]
    return all(low.count(keyword) == times for keyword, times in wanted)


CHECKERS: dict[str, Checker] = {
    "count:word_count_range": word_count_range,
    "count:unique_word_count": unique_word_count,
    "ratio:stop_words": stop_words,
    "ratio:sentence_type": sentence_type,
    "ratio:sentence_balance": sentence_balance,
    "count:conjunctions": conjunctions,
    "count:person_names": person_names,
    "ratio:overlap": overlap,
    "count:numbers": numbers,
    "count:punctuation": punctuation,
    "count:words_japanese": words_japanese,
    "ratio:sentence_words": sentence_words,
    "count:pronouns": pronouns,
    "count:keywords_multiple": keywords_multiple,
}
