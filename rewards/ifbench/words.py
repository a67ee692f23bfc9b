"""IFBench's word and sentence constraints (``words:*``, ``sentence:*``): 16 of the 58.

Each checker is ``check(response, kwargs) -> bool``. "Bare words" are the whitespace-separated words of the
response after every ASCII punctuation character is removed; "edge-stripped" removes punctuation and spaces at
both ends only; sentences and tokens are those of :mod:`rewards.ifbench.text`.

* words:alphabet -- the bare words (the text first edge-stripped) start with consecutive letters of the alphabet,
  wrapping from z to a; the first word's first letter, lower-cased, must be an ASCII letter.
* words:vowel -- the stripped response is one line, and it uses at most 3 of the vowels ``a e i o u`` (any case).
* words:consonants -- every whitespace word of the lower-cased response has two adjacent ASCII consonants
  (``y`` counts as one).
* sentence:alliteration_increment -- each sentence scores more than the one before (the first: any score). A
  sentence's score: over its words (lower-cased, punctuation stripped from the front, empty ones dropped), each
  adjacent pair with the same first character adds 2 when it starts a run and 1 when it extends one.
* words:palindrome -- at least 10 lower-cased bare words (repeats count) of 5 or more characters read the same
  backwards.
* words:prime_lengths -- every bare word's length in characters is a prime below 100.
* words:start_verb -- the response starts with a verb (own rule, :func:`rewards.ifbench.text.starts_with_verb`).
* words:repeats -- no lower-cased bare word occurs more than ``small_n`` times.
* sentence:keyword -- the response has at least ``N`` sentences and sentence ``N`` holds ``word`` as a whole word
  (``\\b`` on both sides), case-insensitively.
* words:odd_even_syllables -- the lower-cased bare words alternate between an odd and an even syllable count, as
  ``syllapy.count`` gives it (:func:`rewards.ifbench.text.syllables`). Lower-casing before or after the punctuation
  is dropped gives the same words: no character lower-cases to, or from, ASCII punctuation.
* words:last_first -- for every two adjacent sentences, the last word of the first (trailing punctuation and spaces
  stripped) equals the first word of the second (leading ones stripped), case-insensitively; no sentence may be
  empty once stripped.
* words:paragraph_last_first -- every non-blank line, lower-cased and edge-stripped, starts and ends with the same
  whitespace word.
* sentence:increment -- each sentence has exactly ``small_n`` more bare words than the one before.
* words:no_consecutive -- no two adjacent lower-cased bare words start with the same character.
* words:keywords_specific_position -- sentence ``n`` exists and its ``m``-th token holding a letter or digit is
  ``keyword`` (stripped), case-insensitively.
* words:words_position -- ``keyword`` (stripped) is, case-insensitively, both the second token and the second to
  last token of the response; a last token that is a run of ``string.punctuation`` (a substring of it, such as
  ``.`` or ``,-.``) is ignored for "last".
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Any

from rewards.ifbench import args
from rewards.ifbench.text import (
    PUNCTUATION,
    drop_punctuation,
    edge_strip,
    split_sentences,
    starts_with_verb,
    syllables,
    word_tokens,
)

Checker = Callable[[str, Mapping[str, Any]], bool]

_ALPHABET = string.ascii_lowercase
_CONSONANTS = frozenset("bcdfghjklmnpqrstvwxyz")
_SMALL_PRIMES = frozenset(n for n in range(2, 100) if all(n % d for d in range(2, int(n**0.5) + 1)))


def _bare_words(text: str) -> list[str]:
    return drop_punctuation(text).split()


def alphabet(response: str, kw: Mapping[str, Any]) -> bool:
    words = edge_strip(drop_punctuation(response)).split()
    if not words:
        return False
    letter = words[0][0].lower()
    if letter not in _ALPHABET:
        return False
    for word in words[1:]:
        letter = _ALPHABET[(_ALPHABET.index(letter) + 1) % 26]
        if word.lower()[0] != letter:
            return False
    return True


def vowel(response: str, kw: Mapping[str, Any]) -> bool:
    lines = response.strip().split("\n")
    return len(lines) == 1 and len(set(lines[0].lower()) & set("aeiou")) <= 3


def _has_cluster(word: str) -> bool:
    return any(a in _CONSONANTS and b in _CONSONANTS for a, b in pairwise(word))


def consonants(response: str, kw: Mapping[str, Any]) -> bool:
    return all(_has_cluster(word) for word in response.lower().strip().split())


def _alliteration(sentence: str) -> int:
    words = [w for w in (token.lstrip(PUNCTUATION + " ") for token in sentence.lower().split()) if w]
    score = 0
    in_run = False
    for a, b in pairwise(words):
        if a[0] == b[0]:
            score += 1 if in_run else 2
            in_run = True
        else:
            in_run = False
    return score


def alliteration_increment(response: str, kw: Mapping[str, Any]) -> bool:
    previous = -1
    for sentence in split_sentences(response):
        score = _alliteration(sentence)
        if score <= previous:
            return False
        previous = score
    return True


def palindrome(response: str, kw: Mapping[str, Any]) -> bool:
    words = _bare_words(response.lower())
    return sum(1 for w in words if len(w) >= 5 and w == w[::-1]) >= 10


def prime_lengths(response: str, kw: Mapping[str, Any]) -> bool:
    return all(len(word) in _SMALL_PRIMES for word in _bare_words(response))


def start_verb(response: str, kw: Mapping[str, Any]) -> bool:
    return starts_with_verb(response)


def repeats(response: str, kw: Mapping[str, Any]) -> bool:
    limit = args.count(kw, "small_n")
    counts = Counter(_bare_words(response.lower()))
    return all(n <= limit for n in counts.values())


def sentence_keyword(response: str, kw: Mapping[str, Any]) -> bool:
    word = args.text(kw, "word")
    position = args.count(kw, "N", minimum=1)
    sentences = split_sentences(response)
    if len(sentences) < position:
        return False
    return re.search(r"\b" + re.escape(word) + r"\b", sentences[position - 1], re.IGNORECASE) is not None


def odd_even_syllables(response: str, kw: Mapping[str, Any]) -> bool:
    parities = [syllables(word) % 2 for word in _bare_words(response.lower())]
    return all(a != b for a, b in pairwise(parities))


def last_first(response: str, kw: Mapping[str, Any]) -> bool:
    sentences = split_sentences(response)
    for first, second in pairwise(sentences):
        tail = first.rstrip(PUNCTUATION + " ").split()
        head = second.lstrip(PUNCTUATION + " ").split()
        if not tail or not head or tail[-1].lower() != head[0].lower():
            return False
    return True


def paragraph_last_first(response: str, kw: Mapping[str, Any]) -> bool:
    for line in response.split("\n"):
        words = edge_strip(line.strip().lower()).split()
        if words and words[0] != words[-1]:
            return False
    return True


def increment(response: str, kw: Mapping[str, Any]) -> bool:
    step = args.count(kw, "small_n")
    sizes = [len(_bare_words(sentence)) for sentence in split_sentences(response)]
    return bool(sizes) and all(b == a + step for a, b in pairwise(sizes))


def no_consecutive(response: str, kw: Mapping[str, Any]) -> bool:
    words = _bare_words(response.lower())
    return all(a[0] != b[0] for a, b in pairwise(words))


def keywords_specific_position(response: str, kw: Mapping[str, Any]) -> bool:
    keyword = args.text(kw, "keyword", strip=True)
    sentence_no = args.count(kw, "n", minimum=1)
    word_no = args.count(kw, "m", minimum=1)
    sentences = split_sentences(response)
    if len(sentences) < sentence_no:
        return False
    words = [t for t in word_tokens(sentences[sentence_no - 1]) if any(ch.isalnum() for ch in t)]
    return len(words) >= word_no and words[word_no - 1].lower() == keyword.lower()


def words_position(response: str, kw: Mapping[str, Any]) -> bool:
    keyword = args.text(kw, "keyword", strip=True).lower()
    tokens = word_tokens(response)
    last = -2
    if len(tokens) >= 1 and tokens[-1] in string.punctuation:
        last = -3
    if len(tokens) < -last:
        return False
    return tokens[1].lower() == tokens[last].lower() == keyword


CHECKERS: dict[str, Checker] = {
    "words:alphabet": alphabet,
    "words:vowel": vowel,
    "words:consonants": consonants,
    "sentence:alliteration_increment": alliteration_increment,
    "words:palindrome": palindrome,
    "words:prime_lengths": prime_lengths,
    "words:start_verb": start_verb,
    "words:repeats": repeats,
    "sentence:keyword": sentence_keyword,
    "words:odd_even_syllables": odd_even_syllables,
    "words:last_first": last_first,
    "words:paragraph_last_first": paragraph_last_first,
    "sentence:increment": increment,
    "words:no_consecutive": no_consecutive,
    "words:keywords_specific_position": keywords_specific_position,
    "words:words_position": words_position,
}
