"""open-instruct RLVR rows (``func_name`` ground truth) are judged as open-instruct's ``if_functions`` judge them.

Every case in FIXED was judged the other way before (when these rows were translated to Google's IFEval checkers);
its comment says which rule of open-instruct's function decides it. All agree with open-instruct's code except the
three marked as deliberate differences (listed in ``rewards/ifeval/open_instruct.py``).
"""

from __future__ import annotations

import json
import re

import pytest

from rewards.ifeval import FUNCTION_NAMES, verify
from rewards.ifeval.open_instruct import choice_options, extract_answer
from rewards.ifeval.text import count_bracket_spans
from rewards.worker_pool import get_pool, run_limited

# RLVR-IFeval rows carry every argument key, most of them null.
ALL_KEYS = dict.fromkeys(
    ["N", "quantifier", "word", "letter", "i", "first_word", "options", "keyword_list", "forbidden_words",
     "language", "postscript_marker", "section_splitter", "original_prompt", "end_phrase"]
)  # fmt: skip

# (func_name, kwargs, response, open-instruct's verdict)
FIXED = [
    # keyword_list as one string is one keyword, not its characters (deliberate difference 4)
    ("verify_keywords", {"keyword_list": "cat dog"}, "a cat, a dog", False),
    # whole \w+ tokens, lowercased: "cats" is not "cat"
    ("verify_keyword_frequency", {"word": "cat", "N": 1}, "Cats chase one cat.", True),
    # plain case-insensitive substring: "badly" contains "bad"
    ("validate_forbidden_words", {"forbidden_words": ["bad"]}, "It went badly.", False),
    # case-sensitive text.count(letter)
    ("verify_letter_frequency", {"letter": "z", "N": 1}, "Zebras graze.", True),
    # text langdetect cannot decide is not in the language (difference 5: open-instruct raises)
    ("validate_response_language", {"language": "en"}, "12345 67890", False),
    # the divider is "* * *" (lines stripped first) ...
    ("verify_paragraph_count", {"N": 3}, "One.\n  * * *  \nTwo.\n* * *\nThree.", True),
    # ... and "***" is not it
    ("verify_paragraph_count", {"N": 2}, "One.\n***\nTwo.", False),
    # words are whitespace-separated chunks: "well-known" is one
    ("validate_word_constraint", {"N": 2, "quantifier": "at most"}, "well-known fact", True),
    # "around" is within max(round(N/10), 1)
    ("validate_word_constraint", {"N": 20, "quantifier": "around"}, " ".join(["well-known"] * 22), True),
    # sentences end at whitespace after . ? ! unless after "x.y." or "Ab."
    ("verify_sentence_constraint", {"N": 2, "quantifier": "at least"}, "See section 3. it is short.", True),
    ("verify_sentence_constraint", {"N": 2, "quantifier": "at most"}, "It is 3 p.m. Then we go. Bye.", True),
    # the first word is a case-sensitive prefix
    ("validate_paragraphs", {"N": 2, "i": 1, "first_word": "Intro"}, "Introduction here.\n\nBody.", True),
    ("validate_paragraphs", {"N": 2, "i": 1, "first_word": "Intro"}, "intro here.\n\nBody.", False),
    # blank pieces of split("\n\n") count as paragraphs
    ("validate_paragraphs", {"N": 2, "i": 1, "first_word": "A"}, "A.\n\n\n\nB.", False),
    # the marker is case-sensitive and something must follow it
    ("verify_postscript", {"postscript_marker": "P.S."}, "Thanks.\np.s. see you", False),
    ("verify_postscript", {"postscript_marker": "P.S."}, "Thanks. P.S.", False),
    # any line starting with * or - is a bullet, "**" included
    ("verify_bullet_points", {"N": 2}, "**Plan**\n* one", True),
    # an empty <<>> title counts
    ("validate_title", {}, "<<>> text", True),
    # naming two options is a hedge (deliberate difference 3)
    (
        "validate_choice",
        {"options": ["My answer is yes.", "My answer is no."]},
        "My answer is yes. My answer is no.",
        False,
    ),
    # *...* spans pair up the stars of a line: **bold** is two
    ("validate_highlighted_sections", {"N": 2}, "**bold** text", True),
    # exactly N pieces around the splitter, no number needed
    ("validate_sections", {"N": 2, "section_splitter": "Section"}, "Section A: x\nSection B: y", True),
    ("validate_sections", {"N": 2, "section_splitter": "Section"}, "Section 1 a\nSection 2 b\nSection 3 c", False),
    # json.loads of the whole response: a code fence is not JSON
    ("validate_json_format", {}, '```json\n{"a": 1}\n```', False),
    # the prompt is a case-sensitive prefix
    ("validate_repeat_prompt", {"original_prompt": "Repeat me."}, "repeat me. Done", False),
    # one separator; an empty first response still differs from the second
    ("validate_two_responses", {}, "****** only one", True),
    # text == text.upper(), whatever the language
    ("validate_uppercase", {}, "BONJOUR À TOUS LES AMIS DE LA FRANCE ET DU MONDE", True),
    ("validate_lowercase", {}, "bonjour à tous les amis de la france et du monde entier", True),
    # \b[A-Z]+\b: "U.S.A." is three capital words
    ("validate_frequency_capital_words", {"N": 5, "quantifier": "at least"}, "U.S.A. IS BIG", True),
    # case-sensitive suffix, quotes not stripped
    ("validate_end", {"end_phrase": "The end."}, "Story. the end.", False),
    ("validate_end", {"end_phrase": "The end."}, '"Story. The end."', False),
    # starts and ends with a double quote
    ("validate_quotation", {}, '"', True),
    # the answer is what follows the last </think>
    ("validate_no_commas", {}, "<think>a, b, c</think>No commas here.", True),
]


@pytest.mark.parametrize(("func_name", "kwargs", "response", "expected"), FIXED)
def test_judged_as_open_instruct(func_name, kwargs, response, expected):
    row = dict(ALL_KEYS, func_name=func_name, **kwargs)
    assert verify(response, json.dumps(row)) is expected
    assert verify(response, row) is expected


def test_every_function_but_placeholders_has_a_fixed_case():
    # validate_placeholders was already judged as open-instruct does (its linear scan is tested below)
    assert {f for f, *_ in FIXED} | {"validate_placeholders"} == set(FUNCTION_NAMES)


def test_synthesis_template_paragraph_instruction_is_scored():
    """Our own synthesis template asks for '* * *'; a response that obeys scores, one using '***' does not."""
    from tulu_recipes.generation.constraints import load_catalog

    entry = next(c for c in load_catalog() if c["func_name"] == "verify_paragraph_count")
    assert "* * *" in entry["instruction"]
    gt = {"func_name": "verify_paragraph_count", "N": 2}
    assert verify("First paragraph.\n* * *\nSecond paragraph.", gt)
    assert not verify("First paragraph.\n***\nSecond paragraph.", gt)


def test_answer_extraction_as_open_instruct():
    assert extract_answer("<|assistant|>\n  <think>x</think> <answer>42</answer> ") == "42"
    assert extract_answer("a</think>b</think> c ") == "c"
    assert not verify("<think>all lowercase</think>   ", {"func_name": "validate_lowercase"})  # empty answer


def test_malformed_ground_truth_scores_zero():
    """Deliberate difference 1: where open-instruct raises or accepts vacuously, the row scores 0."""
    bad = [
        {"func_name": "verify_letter_frequency", "letter": "ab", "N": 1},
        {"func_name": "validate_paragraphs", "N": 2, "i": 3, "first_word": "A"},
        {"func_name": "validate_paragraphs", "N": 2, "i": 0, "first_word": "B"},
        {"func_name": "validate_end", "end_phrase": ""},
        {"func_name": "validate_repeat_prompt", "original_prompt": ""},
        {"func_name": "verify_keywords", "keyword_list": []},
        {"func_name": "validate_choice", "options": []},
        {"func_name": "validate_sections", "N": 1, "section_splitter": ""},
        {"func_name": "validate_title", "N": 3},  # an argument the function does not take
        {"func_name": "validate_word_constraint", "N": True, "quantifier": "at least"},
        {"func_name": "validate_word_constraint", "N": 1, "quantifier": "exactly"},
    ]
    for gt in bad:
        assert verify("A.\n\nB.", gt) is False, gt
    assert verify("one two", {"func_name": "validate_word_constraint", "N": "2", "quantifier": "at most"})
    assert verify("one two", {"func_name": "validate_word_constraint", "N": 2.0, "quantifier": "at least"})


def test_choice_hedging_counts_distinct_whole_options():
    opts = ["yes", "yes, definitely", "no"]
    assert verify("I say yes, definitely.", {"func_name": "validate_choice", "options": opts})  # inside a longer one
    assert not verify("yes or no", {"func_name": "validate_choice", "options": opts})
    assert verify("Answer: B", {"func_name": "validate_choice", "options": ["A", "B"]})  # "A" only inside a word
    # options given as one string are its quoted options, not its characters (deliberate difference 3)
    assert choice_options("('a', \"b\")") == ["a", "b"]
    assert not verify(
        "Maybe so.", {"func_name": "validate_choice", "options": "('My answer is yes.', 'My answer is no.')"}
    )
    assert choice_options("plain") == ["plain"]


def test_loose_mode_tries_the_variants_of_the_answer():
    gt = {"func_name": "validate_lowercase"}
    response = "Sure! Here it is:\nall lowercase text"
    assert not verify(response, gt)
    assert verify(response, gt, loose=True)


def test_bracket_spans_equal_the_regex():
    for text in ["[a] [b]", "[a\n[b]", "[[x]]", "[]", "[a [b] c]", "]\n[", "[\r]"]:
        assert count_bracket_spans(text) == len(re.findall(r"\[(.*?)\]", text)), text


ARGS = {
    "keyword_list": ["x"], "word": "x", "N": 1, "forbidden_words": ["x"], "letter": "x", "quantifier": "around",
    "first_word": "x", "i": 1, "postscript_marker": "P.S.", "options": ["x", "y"], "section_splitter": "Section",
    "original_prompt": "x", "end_phrase": "x",
}  # fmt: skip
TAKES = {
    "verify_keywords": ["keyword_list"], "verify_keyword_frequency": ["word", "N"],
    "validate_forbidden_words": ["forbidden_words"], "verify_letter_frequency": ["letter", "N"],
    "verify_paragraph_count": ["N"], "validate_word_constraint": ["N", "quantifier"],
    "verify_sentence_constraint": ["N", "quantifier"], "validate_paragraphs": ["N", "first_word", "i"],
    "verify_postscript": ["postscript_marker"], "validate_placeholders": ["N"], "verify_bullet_points": ["N"],
    "validate_choice": ["options"], "validate_highlighted_sections": ["N"],
    "validate_sections": ["N", "section_splitter"],
    "validate_repeat_prompt": ["original_prompt"], "validate_frequency_capital_words": ["N", "quantifier"],
    "validate_end": ["end_phrase"],
}  # fmt: skip


@pytest.mark.parametrize(
    "text",
    ["[\n" * 50_000 + "]", "[" * 100_000, "<<" * 50_000, "*" * 100_000, "a. " * 33_000, "{" * 100_000, "\n" * 100_000],
    ids=lambda text: f"{text[:3]!r}x{len(text)}",
)
def test_every_function_is_fast_on_100k_adversarial_inputs(text):
    # Under the pool's hard limit: a super-linear blow-up would be killed; the path taken is asserted, not a time.
    pool = get_pool("ifeval-adversarial")
    kills = pool.kills
    items = [
        (text, {"func_name": name, **{k: ARGS[k] for k in TAKES.get(name, [])}}, True)
        for name in FUNCTION_NAMES
        if name != "validate_response_language"  # langdetect's own cost
    ]
    out = run_limited("rewards.builtins:ifeval_item", items, timeout=60, default="killed", pool="ifeval-adversarial")
    assert "killed" not in out and pool.kills == kills
    assert all(isinstance(v, bool) for v in out)
