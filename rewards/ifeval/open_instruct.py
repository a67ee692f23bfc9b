"""Translate open-instruct's RLVR IFEval ground truth (``{"func_name": ..., <kwargs>}``) to IFEval.

The 25 function names map one-to-one onto the 25 IFEval ids (recipe doc section 6.3). Keys whose
value is null are ignored (``allenai/RLVR-IFeval`` rows carry every key). Counting constraints:

* "exactly N" (keyword and letter frequency) becomes IFEval's "at least N" and "less than N+1";
* quantifier "at least" stays, "at most" becomes "less than N+1", and "around" becomes
  "at least N-t" and "less than N+t+1" with t = max(round(N/10), 1) for words and capital words,
  t = 1 for sentences (open-instruct's tolerances);
* ``validate_choice`` uses IFEval's direction (the response contains an option), not open-instruct's
  reversed ``text in option``; ``options`` may be a list or a string holding quoted options.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

Instruction = tuple[str, dict[str, Any]]

_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def _n(gt: Mapping[str, Any]) -> int:
    value = gt["N"]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"bad N {value!r}")
    return int(value)


def _range(iid: str, count_key: str, rel_key: str, low: int, high: int) -> list[Instruction]:
    """Instructions meaning ``low <= count <= high``."""
    return [(iid, {count_key: low, rel_key: "at least"}), (iid, {count_key: high + 1, rel_key: "less than"})]


def _quantified(iid: str, count_key: str, rel_key: str, gt: Mapping[str, Any], tol: int | None) -> list:
    n, quantifier = _n(gt), gt.get("quantifier")
    if quantifier == "at least":
        return [(iid, {count_key: n, rel_key: "at least"})]
    if quantifier == "at most":
        return [(iid, {count_key: n + 1, rel_key: "less than"})]
    if quantifier == "around":
        t = max(round(n * 0.1), 1) if tol is None else tol
        return _range(iid, count_key, rel_key, n - t, n + t)
    raise ValueError(f"unknown quantifier {quantifier!r}")


def _options(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    text = str(value)
    quoted = [a or b for a, b in _QUOTED.findall(text)]
    return quoted or [text]


def _simple(iid: str, **renames: str):
    def build(gt: Mapping[str, Any]) -> list[Instruction]:
        return [(iid, {new: gt[old] if old != "N" else _n(gt) for new, old in renames.items()})]

    return build


_BUILDERS = {
    "verify_keywords": _simple("keywords:existence", keywords="keyword_list"),
    "verify_keyword_frequency": lambda gt: [
        (iid, {"keyword": gt["word"], **kw})
        for iid, kw in _range("keywords:frequency", "frequency", "relation", _n(gt), _n(gt))
    ],
    "validate_forbidden_words": _simple("keywords:forbidden_words", forbidden_words="forbidden_words"),
    "verify_letter_frequency": lambda gt: [
        (iid, {"letter": gt["letter"], **kw})
        for iid, kw in _range("keywords:letter_frequency", "let_frequency", "let_relation", _n(gt), _n(gt))
    ],
    "validate_response_language": _simple("language:response_language", language="language"),
    "verify_paragraph_count": _simple("length_constraints:number_paragraphs", num_paragraphs="N"),
    "validate_word_constraint": lambda gt: _quantified(
        "length_constraints:number_words", "num_words", "relation", gt, None
    ),
    "verify_sentence_constraint": lambda gt: _quantified(
        "length_constraints:number_sentences", "num_sentences", "relation", gt, 1
    ),
    "validate_paragraphs": _simple(
        "length_constraints:nth_paragraph_first_word", num_paragraphs="N", nth_paragraph="i", first_word="first_word"
    ),
    "verify_postscript": _simple("detectable_content:postscript", postscript_marker="postscript_marker"),
    "validate_placeholders": _simple("detectable_content:number_placeholders", num_placeholders="N"),
    "verify_bullet_points": _simple("detectable_format:number_bullet_lists", num_bullets="N"),
    "validate_title": _simple("detectable_format:title"),
    "validate_choice": lambda gt: [
        ("detectable_format:constrained_response", {"options": _options(gt.get("options"))})
    ],
    "validate_highlighted_sections": _simple("detectable_format:number_highlighted_sections", num_highlights="N"),
    "validate_sections": _simple(
        "detectable_format:multiple_sections", num_sections="N", section_spliter="section_splitter"
    ),
    "validate_json_format": _simple("detectable_format:json_format"),
    "validate_repeat_prompt": _simple("combination:repeat_prompt", prompt_to_repeat="original_prompt"),
    "validate_two_responses": _simple("combination:two_responses"),
    "validate_uppercase": _simple("change_case:english_capital"),
    "validate_lowercase": _simple("change_case:english_lowercase"),
    "validate_frequency_capital_words": lambda gt: _quantified(
        "change_case:capital_word_frequency", "capital_frequency", "capital_relation", gt, None
    ),
    "validate_end": _simple("startend:end_checker", end_phrase="end_phrase"),
    "validate_quotation": _simple("startend:quotation"),
    "validate_no_commas": _simple("punctuation:no_comma"),
}

FUNCTION_NAMES = tuple(_BUILDERS)


def translate_ground_truth(ground_truth: Mapping[str, Any]) -> list[Instruction]:
    """IFEval ``(instruction_id, kwargs)`` pairs that together mean the open-instruct constraint.

    Raises KeyError/ValueError on an unknown function or missing/bad arguments.
    """
    gt = {k: v for k, v in ground_truth.items() if v is not None}
    return _BUILDERS[gt["func_name"]](gt)
