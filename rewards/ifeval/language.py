"""Deterministic language identification for the IFEval checkers.

Rule: ``langdetect``'s algorithm and profiles with a fixed seed (0). The profiles ship inside the
``langdetect`` wheel, so nothing is downloaded. One private ``DetectorFactory`` is loaded once under a
lock; each call makes its own detector, which owns its seeded ``random.Random``, so verdicts are the
same across runs and threads and the global ``langdetect`` state and ``random`` module are untouched.

Speed: the detector keeps langdetect's sampling loop but updates the 55 language probabilities as one
numpy vector. Each element gets the same IEEE operations as langdetect's Python loop (multiply by
``weight + p``, divide by a left-to-right sum), so the result equals langdetect's exactly. Text
preparation, about half of langdetect's time, is rewritten with the same output: space runs collapse
with one regex, the Latin/non-Latin count is two regex counts, the text is normalized with one
``str.translate``, and n-grams are extracted per word (what ``NGram.add_char`` yields depends only on the word and
whether a space follows), with each word's n-grams cached. The profiles are one float64 matrix
(88k n-grams x 55 languages, 39 MB) built with the factory. Verdicts are also cached by text
(loose mode checks the same variant text several times).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import numpy as np
from langdetect.detector import Detector
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram

SEED = 0
_lock = threading.Lock()
_factory = None
_rows: dict[str, int] = {}  # n-gram -> its row of _profiles
_profiles = np.empty((0, 0))  # every n-gram's per-language probabilities, built once with the factory
_word_cache: dict[str, tuple[list[str], list[str]]] = {}  # normalized word -> its n-grams (see _word_ngrams)
_MAX_CACHED_WORDS = 1 << 14  # with _MAX_CACHED_LENGTH, keeps the cache under ~50 MB whatever the text
_MAX_CACHED_LENGTH = 16
_SPACE_RUN = re.compile(" {2,}")
_LATIN = re.compile("[A-z]")
# langdetect compares unicode_block()'s integer to a block *name*, so its Latin Extended Additional exception
# never applies: every character from U+0300 up counts as non-Latin.
_NON_LATIN = re.compile("[\u0300-\U0010ffff]")


def _get_factory():
    global _factory, _profiles
    if _factory is None:
        with _lock:
            if _factory is None:
                from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

                factory = DetectorFactory()
                factory.load_profile(PROFILES_DIRECTORY)
                factory.set_seed(SEED)
                _rows.update((word, i) for i, word in enumerate(factory.word_lang_prob_map))
                _profiles = np.array(list(factory.word_lang_prob_map.values()), dtype=np.float64)
                _factory = factory
    return _factory


def _word_ngrams(word: str) -> tuple[list[str], list[str]]:
    """The n-grams langdetect's ``NGram`` buffer yields for one space-free word, and the two more it yields when a
    space follows (in langdetect's order). A buffer starts at ``" "``, keeps three characters, and yields nothing
    for a character that, like the one before it, is upper-case. Only profile n-grams (``_rows``) are kept."""
    cached = _word_cache.get(word)
    if cached is not None:
        return cached
    padded = " " + word + " "
    inner = []
    for j, ch in enumerate(word):
        if j and ch.isupper() and word[j - 1].isupper():
            continue
        inner += [g for g in (ch, padded[j : j + 2], padded[j - 1 : j + 2] if j else "") if g and g in _rows]
    k = len(word)
    trailing = [g for g in (padded[k : k + 2], padded[k - 1 : k + 2]) if g in _rows]
    if len(word) <= _MAX_CACHED_LENGTH and len(_word_cache) < _MAX_CACHED_WORDS:
        _word_cache[word] = (inner, trailing)
    return inner, trailing


class _VectorDetector(Detector):
    """langdetect's ``Detector`` with the per-language probability loop done on numpy arrays."""

    def _init_probability(self):
        if self.prior_map is not None:
            return np.array(self.prior_map, dtype=np.float64)
        return np.full(len(self.langlist), 1.0 / len(self.langlist))

    def append(self, text):
        text = NGram.normalize_vi(self.MAIL_RE.sub(" ", self.URL_RE.sub(" ", text)))
        self.text += _SPACE_RUN.sub(" ", text[: self.max_text_length])

    def cleaning_text(self):
        if 2 * len(_LATIN.findall(self.text)) < len(_NON_LATIN.findall(self.text)):
            super().cleaning_text()

    def _extract_ngrams(self):
        result = []
        pieces = self.text.translate({ord(c): NGram.normalize(c) for c in set(self.text)}).split(" ")
        last = len(pieces) - 1
        for i, word in enumerate(pieces):
            if word:
                inner, trailing = _word_ngrams(word)
                result.extend(inner)
                if i < last:  # a space follows the word
                    result.extend(trailing)
        return result

    def _detect_block(self):
        """langdetect's trials with the same random draws and the same IEEE operations, in a tight loop."""
        self.cleaning_text()
        ngrams = self._extract_ngrams()
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        rows, ids = np.unique(np.array([_rows[w] for w in ngrams]), return_inverse=True)
        table, ids, n = _profiles[rows], ids.tolist(), len(ngrams)
        langprob = np.zeros(len(self.langlist))
        below = self.random._randbelow  # random.choice(ngrams) is ngrams[_randbelow(len(ngrams))]
        self.random.seed(self.seed)
        for _ in range(self.n_trial):
            prob = self._init_probability()
            alpha = self.alpha + self.random.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            factors = alpha / self.BASE_FREQ + table
            prob *= factors[ids[below(n)]]
            i = 0
            while True:  # langdetect normalizes and tests convergence after update 0, 5, 10, ...
                prob /= sum(prob.tolist())  # a left-to-right sum, as langdetect's
                if prob.max() > self.CONV_THRESHOLD or i >= self.ITERATION_LIMIT:
                    break
                for _ in range(5):
                    prob *= factors[ids[below(n)]]
                i += 5
            langprob += prob / self.n_trial
        self.langprob = [float(p) for p in langprob]


@lru_cache(maxsize=256)
def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (e.g. ``"en"``), or None when langdetect cannot decide."""
    detector = _VectorDetector(_get_factory())
    try:
        detector.append(text)
        return detector.detect()
    except LangDetectException:
        return None
