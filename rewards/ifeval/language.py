"""Deterministic language identification for the IFEval checkers.

Rule: ``langdetect`` with a fixed seed (0). The profiles ship inside the ``langdetect`` wheel, so
nothing is downloaded. One private ``DetectorFactory`` is loaded once under a lock; each call makes
its own ``Detector``, which owns its seeded ``random.Random``, so verdicts are the same across runs
and threads and the global ``langdetect`` state and ``random`` module are left untouched.
"""

from __future__ import annotations

import threading

SEED = 0
_lock = threading.Lock()
_factory = None


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


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (e.g. ``"en"``), or None when langdetect cannot decide."""
    from langdetect.detector import Detector
    from langdetect.lang_detect_exception import LangDetectException

    detector = Detector(_get_factory())
    try:
        detector.append(text)
        return detector.detect()
    except LangDetectException:
        return None
