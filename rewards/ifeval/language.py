"""Deterministic language identification for the IFEval checkers.

Rule: ``langdetect``'s algorithm and profiles with a fixed seed (0). The profiles ship inside the
``langdetect`` wheel, so nothing is downloaded. One private ``DetectorFactory`` is loaded once under a
lock; each call makes its own detector, which owns its seeded ``random.Random``, so verdicts are the
same across runs and threads and the global ``langdetect`` state and ``random`` module are untouched.

Speed: the detector keeps langdetect's sampling loop but updates the 55 language probabilities as one
numpy vector. Each element gets the same IEEE operations as langdetect's Python loop (multiply by
``weight + p``, divide by a left-to-right sum), so the result equals langdetect's exactly. Verdicts
are also cached by text (loose mode checks the same variant text several times).
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
from langdetect.detector import Detector
from langdetect.lang_detect_exception import LangDetectException

SEED = 0
_lock = threading.Lock()
_factory = None
_vectors: dict[str, np.ndarray] = {}


def _get_factory():
    global _factory
    if _factory is None:
        with _lock:
            if _factory is None:
                from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

                factory = DetectorFactory()
                factory.load_profile(PROFILES_DIRECTORY)
                factory.set_seed(SEED)
                _factory = factory
    return _factory


class _VectorDetector(Detector):
    """langdetect's ``Detector`` with the per-language probability loop done on numpy arrays."""

    def _init_probability(self):
        if self.prior_map is not None:
            return np.array(self.prior_map, dtype=np.float64)
        return np.full(len(self.langlist), 1.0 / len(self.langlist))

    def _update_lang_prob(self, prob, word, alpha):
        if word is None or word not in self.word_lang_prob_map:
            return False
        vector = _vectors.get(word)
        if vector is None:
            vector = _vectors.setdefault(word, np.array(self.word_lang_prob_map[word], dtype=np.float64))
        prob *= alpha / self.BASE_FREQ + vector
        return True

    def _normalize_prob(self, prob):
        prob /= sum(prob.tolist())
        return float(prob.max())

    def _detect_block(self):
        super()._detect_block()
        self.langprob = [float(p) for p in self.langprob]


@lru_cache(maxsize=256)
def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (e.g. ``"en"``), or None when langdetect cannot decide."""
    detector = _VectorDetector(_get_factory())
    try:
        detector.append(text)
        return detector.detect()
    except LangDetectException:
        return None
