"""Word and sentence splitting for the IFEval checkers, with no data download.

Rules (IFEval, arXiv 2311.07911, counts words with a ``\\w+`` tokenizer, sentences with NLTK's
English Punkt model, and "capital words" with NLTK's Treebank word tokenizer):

* ``count_words``: the number of maximal ``\\w+`` runs (what ``RegexpTokenizer(r"\\w+")`` returns).
* ``split_sentences``: a rule-based Punkt-style splitter. A sentence may end at ``.``, ``?`` or ``!``
  only when the mark is followed by whitespace and another token, or by closing/other punctuation.
  Only the last such mark of a whitespace-free chunk counts. ``?`` and ``!`` always end a sentence.
  A word ending in a period ends one unless it is a known abbreviation, an initial ("J.") or an
  ellipsis; a number ("3.") ends one only when a capitalised word follows; an abbreviation or
  ellipsis ends one when a capitalised common sentence starter follows. Line breaks alone never
  end a sentence, as in Punkt.
* ``word_tokenize``: whitespace chunks split Treebank-style at ``, ; : @ # $ % & ? ! " ( ) [ ] { } < >``,
  ``...`` and ``--``, with clitics split off the end (``'s 'm 'd 'll 're 've n't``) and ``cannot``
  split in two. Hyphens, slashes, apostrophes inside words and inner periods stay inside a token.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")

# A candidate sentence end: the mark, then either punctuation that cannot sit inside a word,
# or whitespace followed by a token (Punkt's "period context").
_CANDIDATE = re.compile(r"[.?!](?=[)\";}\]*:@'({\[?!]|\s+\S)")
_NEXT_TOKEN = re.compile(r"\s+(\S+)")
_ELLIPSIS = re.compile(r"\.\.+$")
_NUMBER = re.compile(r"^-?[.,]?\d[\d,.\-]*\.?$")
_INITIAL = re.compile(r"^[^\W\d]\.$")
_LEADING_NON_WORD = re.compile(r"^[(\"`{\[:;&#*@)}\]\-,']+")
_CLOSERS = re.compile(r"^[\"')\]}]+(?:\s+|$)")

# Abbreviations that end with a period but do not end a sentence (titles, company suffixes,
# month names, times). Dotted capital acronyms such as "U.S." or "J.K." are abbreviations too.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st ft vs inc ltd co corp jan feb aug sep sept oct nov dec a.m p.m ph.d".split()
)
_ACRONYM = re.compile(r"^(?:[A-Z]\.)+[A-Z]$")

# Common words that Punkt's English model has seen in lowercase, so a capitalised one after an
# abbreviation, initial or ellipsis reads as the start of a new sentence.
SENTENCE_STARTERS = frozenset(
    """
    the a an this that these those it its it's he she they we i i'm you there there's here however
    but and so if in on at for as when while after before although though because since our my your
    their his her what why how where who which then also yes no please let let's each every all some
    many most both even thus yet nor indeed instead meanwhile moreover remember don't do note thank
    thanks always never just be is are was were have has had not to of with from by one two
    """.split()
)


def count_words(text: str) -> int:
    """Number of ``\\w+`` tokens in ``text``."""
    return sum(1 for _ in _WORD.finditer(text))


def _chunk_start(text: str, end: int) -> int:
    """Start index of the whitespace-free chunk that ends at ``end`` (exclusive)."""
    i = end
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def _looks_sentence_initial(token: str | None) -> bool | None:
    """Punkt's orthographic guess for the token after a period: True, False or None (unknown).

    Punctuation that cannot start a word is a token of its own: ``; : , ! ?`` say "no", the rest
    "unknown". Otherwise a capitalised word says "yes" and a lowercase one "no".
    """
    if not token:
        return False
    first = token[0]
    if first in ";:,!?" or token == ".":
        return False
    if first.isupper():
        return True
    if first.islower():
        return False
    return None


def _common_capitalised(token: str | None) -> bool:
    """Whether ``token`` is a capitalised common word (one of ``SENTENCE_STARTERS``)."""
    if not token or not token[0].isupper():
        return False
    return token.rstrip(".,;:!?\"')]}*").lower() in SENTENCE_STARTERS


def _ends_sentence(word: str, next_token: str | None) -> bool:
    """Whether a chunk ending in a sentence mark, followed by ``next_token``, closes a sentence."""
    if word.endswith(("?", "!")):
        return True
    core = _LEADING_NON_WORD.sub("", word)
    if not core.endswith("."):
        return True
    if _ELLIPSIS.search(core):
        return _common_capitalised(next_token)
    body = core[:-1]
    low = body.lower()
    if _INITIAL.match(core):
        return _common_capitalised(next_token)
    if _NUMBER.match(core):
        return _looks_sentence_initial(next_token) is not False
    if low in ABBREVIATIONS or low.rsplit("-", 1)[-1] in ABBREVIATIONS or _ACRONYM.match(body):
        return _common_capitalised(next_token)
    return True


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences with the Punkt-style rules in the module docstring."""
    starts_ends: list[tuple[int, int]] = []
    last_break = 0
    pending: tuple[int, int, int] | None = None  # (chunk start, match end, next-token start)
    for match in _CANDIDATE.finditer(text):
        start = _chunk_start(text, match.start())
        if pending is not None and pending[1] <= start:
            last_break = _emit(text, pending, last_break, starts_ends)
        nxt = _NEXT_TOKEN.match(text, match.end())
        pending = (start, match.end(), nxt.start(1) if nxt else -1)
    if pending is not None:
        last_break = _emit(text, pending, last_break, starts_ends)
    starts_ends.append((last_break, len(text.rstrip())))
    return _realign(text, starts_ends)


def _emit(text: str, pending: tuple[int, int, int], last_break: int, out: list[tuple[int, int]]) -> int:
    start, end, next_start = pending
    if next_start >= 0:
        stop = next_start
        while stop < len(text) and not text[stop].isspace():
            stop += 1
        next_token = text[next_start:stop]
    else:
        next_token = text[end : end + 1]
    if not _ends_sentence(text[start:end], next_token):
        return last_break
    out.append((last_break, end))
    return next_start if next_start >= 0 else end


def _realign(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """Attach closing quotes/brackets that open a sentence to the previous one; drop empties."""
    sentences: list[str] = []
    for begin, end in spans:
        piece = text[begin:end]
        if sentences:
            m = _CLOSERS.match(piece)
            if m:
                sentences[-1] += m.group(0).rstrip()
                piece = piece[m.end() :]
        if piece:
            sentences.append(piece)
    return sentences


def count_sentences(text: str) -> int:
    """Number of sentences in ``text`` (see ``split_sentences``)."""
    return len(split_sentences(text))


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
