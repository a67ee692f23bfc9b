"""IFBench's 58 constraints (rewards.ifbench): a followed and a broken response per constraint, the rules' quirks
with hand-computed verdicts, both gold shapes, routing through `verifiable`, the unknown-id stop before training,
and the `ifbench` evaluation tasks scored to hand-computed numbers. Nothing here needs ../shared."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _ifbench_cases import CASES
from _shared import rlvr_error_before_the_model_loads

from rewards import load_reward
from rewards.gold_checks import UnknownInstruction, gold_problem
from rewards.ifbench import IDS, check_instructions, check_one, verify
from rewards.ifbench.text import split_sentences, syllables, word_tokens

ROOT = Path(__file__).resolve().parents[1]


def test_the_58_constraints_are_registered():
    assert len(IDS) == 58
    assert set(CASES) == set(IDS)


@pytest.mark.parametrize("instruction_id", sorted(CASES))
def test_followed_response_passes_and_broken_one_fails(instruction_id):
    kwargs, followed, broken = CASES[instruction_id]
    assert check_one(instruction_id, followed, kwargs) is True
    assert check_one(instruction_id, broken, kwargs) is False


@pytest.mark.parametrize(
    ("instruction_id", "response", "kwargs", "expected"),
    [
        # the first "?!" is used up as the interrobang, so a second "?" must still appear
        ("count:punctuation", "Really?! Yes. No, maybe; well: fine!", {}, False),
        ("count:punctuation", "Really\u203d Yes. No, maybe; well: fine! Why?", {}, True),
        # of two blank lines in a row only the first is dropped, so the second breaks the stairs
        ("format:line_indent", "a\n\n b\n  c", {}, True),
        ("format:line_indent", "a\n\n\n b", {}, False),
        # an apostrophe opens a quote level too
        ("format:quotes", '"a \'b "c" b\' a"', {}, True),
        ("format:quotes", "It's \"fine\" and 'ok'.", {}, False),
        # a trailing punctuation token is ignored for the second-to-last word
        ("words:words_position", "It very much is very good!", {"keyword": "very"}, True),
        ("words:words_position", "It very much is very good indeed!", {"keyword": "very"}, False),
        # conjunctions compared as written: "and" and "And," are two different ones
        ("count:conjunctions", "and And,", {"small_n": 2}, True),
        ("count:conjunctions", "and and", {"small_n": 2}, False),
        # 3.5 is one number once punctuation is removed
        ("count:numbers", "Pi is 3.14 and e is 2.71.", {"N": 2}, True),
        ("count:numbers", "Pi is 3.14 and e is 2.71.", {"N": 4}, False),
        # character trigrams: 11 of 11 in the reference (100%), 10 of 11 (90.9%), 9 of 11 (81.8%)
        ("ratio:overlap", "the quick bro", {"reference_text": "the quick brown", "percentage": 100}, True),
        ("ratio:overlap", "the quick brx", {"reference_text": "the quick brown", "percentage": 83}, False),
        ("ratio:overlap", "the quick bxx", {"reference_text": "the quick brown", "percentage": 82}, True),
        # thesis: a blank italic thesis fails
        ("format:thesis", "<i> </i> text", {}, False),
        ("format:thesis", "<em>Point.</em> more", {}, True),
        # option letters must be exact; text options are compared loosely
        ("format:options", "a)", {"options": "a), b), c), d)"}, True),
        ("format:options", "a) ", {"options": "a), b), c), d)"}, False),
        ("format:options", "  I don't know!", {"options": "I know or I don't know"}, True),
        ("custom:date_format_list", "1800-02-30", {}, False),
        ("custom:date_format_list", "1800-02-29", {}, True),
        ("sentence:keyword", "One. Two apples. Three.", {"word": "APPLES", "N": 2.0}, True),
        # alliteration: a run of three scores 2 + 1 = 3, two separate pairs 2 + 2 = 4
        ("sentence:alliteration_increment", "Big bad bear. Red rose and big bag.", {}, True),
        ("sentence:alliteration_increment", "Red rose and big bag. Big bad bear.", {}, False),
        # title case: a one-letter word must not be lower case; "iPhone" is allowed
        ("format:title_case", "A Cat Has An iPhone", {}, True),
        ("format:title_case", "a Cat", {}, False),
        ("sentence:keyword", "One. Two pineapples. Three.", {"word": "apples", "N": 2}, False),
    ],
)
def test_rule_details(instruction_id, response, kwargs, expected):
    assert check_one(instruction_id, response, kwargs) is expected


def test_text_units_match_nltk_and_syllapy():
    assert split_sentences("Go. !?!? Next") == ["Go.", "!", "?!?", "Next"]  # NLTK's own Punkt code
    assert word_tokens("I can't go. Bye!") == ["I", "ca", "n't", "go", ".", "Bye", "!"]
    # syllapy's word list: a vowel-run count gets area 2, poem 1, absolutely 5, definitely 5
    words = ("table", "area", "poem", "absolutely", "definitely", "cake", "rhythm", "a1", "the", "self-care")
    assert [syllables(w) for w in words] == [2, 3, 2, 4, 4, 1, 1, 0, 1, 2]


def test_syllables_never_raise():
    assert syllables("cat-" * 50 + "cat") == 51  # 50 hyphens: syllapy adds the parts up
    assert syllables("cat-" * 2000 + "cat") == 0  # syllapy would recurse 2000 deep and raise RecursionError
    assert syllables(None) == 0  # type: ignore[arg-type]
    assert syllables("") == 0
    assert check_one("words:odd_even_syllables", "cat " + "cat-" * 2000 + "cat", {}) is False


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("Yes, definitely.", True),  # 1, 4 (a vowel-run count says 5: odd, odd)
        ("Area cat", False),  # 3, 1 (a vowel-run count says 2, 1)
        ("Idea, poem, cat; absolutely!", True),  # 3, 2, 1, 4
    ],
)
def test_odd_even_syllables_counts_as_syllapy(response, expected):
    assert check_one("words:odd_even_syllables", response, {}) is expected


@pytest.mark.parametrize(
    ("instruction_id", "kwargs"),
    [
        ("count:numbers", {}),  # missing: the reference would draw one at random
        ("count:numbers", {"N": -1}),
        ("count:numbers", {"N": "3"}),
        ("count:numbers", {"N": True}),
        ("count:numbers", {"N": 2.5}),
        ("sentence:keyword", {"word": "a", "N": 0}),
        ("count:words_japanese", {"N": 0}),
        ("format:list", {"sep": ""}),
        ("repeat:repeat_span", {"prompt_to_repeat": "abc", "n_start": -2, "n_end": 2}),
        ("ratio:overlap", {"percentage": 50}),
        ("count:keywords_multiple", {"keyword1": "a"}),
        ("no:such_id", {}),
    ],
)
def test_bad_arguments_score_zero(instruction_id, kwargs):
    assert check_one(instruction_id, "Some text with 3 numbers 4 and 5 a.", kwargs) is False


@pytest.mark.parametrize("response", ["", "   \n", None, 5, ["a"]])
def test_blank_or_non_text_responses_score_zero(response):
    assert check_one("format:sub-bullets", response, {}) is False  # no "*" would pass vacuously
    assert verify(response, {"instruction_id_list": ["format:sub-bullets"], "kwargs": [{}]}) is False


def test_every_checker_survives_hostile_text():
    nasty = [
        "((((((" * 2000,
        "\"'" * 5000,
        "\x00\ud800",
        "Question 1" * 3000,
        "Question" + "\n" * 200_000,
        '"' + "," * 10000,
        "\n" * 5000,
    ]
    for iid in sorted(IDS):
        kwargs = CASES[iid][0]
        for text in nasty:
            assert check_one(iid, text, kwargs) in (True, False)


def test_loose_mode_tries_the_ifeval_variants():
    response = "Sure, here it is:\nNoSpacesHere"
    assert check_instructions(response, ["format:no_whitespace"], [{}]) == [False]
    assert check_instructions(response, ["format:no_whitespace"], [{}], loose=True) == [True]


def test_both_gold_shapes_and_all_instructions_must_hold():
    ids, kwargs = ["count:numbers", "format:no_whitespace"], [{"N": 1}, None]
    ifbench_row = {"instruction_id_list": ids, "kwargs": kwargs}
    assert verify("only1number", ifbench_row) is True
    assert verify("only1number", json.dumps(ifbench_row)) is True
    assert verify("only 1 number", ifbench_row) is False
    open_instruct = str([{"instruction_id": ids, "kwargs": kwargs}])  # open-instruct writes a Python literal
    assert verify("<think>draft 1 2 3</think>\n<answer>only1number</answer>", open_instruct) is True
    assert verify("<think>x</think>two2numbers3", open_instruct) is False
    assert verify("only1number", {"instruction_id_list": ids, "kwargs": [{"N": 1}]}) is False  # kwargs length
    assert verify("only1number", "__import__('os')") is False  # a gold is parsed as a literal, never run


def test_gold_check_names_an_unknown_id():
    assert gold_problem("ifbench", {"instruction_id_list": ["count:numbers"], "kwargs": [{"N": 1}]}) is None
    assert gold_problem("ifbench", "not a gold").startswith("not an IFBench gold")
    with pytest.raises(UnknownInstruction, match="'count:number'"):
        gold_problem("ifbench", str([{"instruction_id": ["count:number"], "kwargs": [{}]}]))


def test_verifiable_routes_ifbench_rows():
    reward = load_reward("verifiable", value=10.0)
    gold = json.dumps({"instruction_id_list": ["custom:character_reverse"], "kwargs": [{}]})
    scores = reward(
        completions=["elgae dlab ehT", "The bald eagle", "elgae dlab"],
        ground_truth=[gold, gold, gold],
        dataset=["ifbench", "IFBench ", "unknown"],
    )
    assert scores == [10.0, 0.0, None]


def test_unknown_ifbench_id_stops_training_before_the_model_loads(tmp_path, monkeypatch):
    good = json.dumps({"instruction_id_list": ["count:numbers"], "kwargs": [{"N": 1}]})
    bad = json.dumps({"instruction_id_list": ["count:numberz"], "kwargs": [{"N": 1}]})
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}], "ground_truth": good, "dataset": "ifbench"}
            for i in range(7)]  # fmt: skip
    rows.insert(3, {"messages": [{"role": "user", "content": "q"}], "ground_truth": bad, "dataset": "ifbench"})
    message = rlvr_error_before_the_model_loads(tmp_path, monkeypatch, rows)
    assert re.search(r"row \d+.*unknown IFBench instruction id 'count:numberz'", message)
    assert "\n" not in message


# --- evaluation -----------------------------------------------------------------------------------------------


def _row(key, prompt, ids, kwargs):
    return {"key": key, "prompt": prompt, "instruction_id_list": ids, "kwargs": kwargs}


def test_ifbench_task_scores_a_tiny_prediction_set_to_hand_computed_numbers(tmp_path):
    from tulu_recipes.evaluation.scoring import score
    from tulu_recipes.evaluation.tasks import build_task

    rows = [
        _row("1", "Say it backwards.", ["custom:character_reverse"], [{"N": None}]),
        _row("2", "No spaces, one number.", ["format:no_whitespace", "count:numbers"], [{}, {"N": 1}]),
        _row("3", "Three numbers.", ["count:numbers"], [{"N": 3}]),
    ]
    path = tmp_path / "IFBench_test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    task = build_task("ifbench", data_dir=tmp_path)
    assert (task.name, task.kind, len(task.examples)) == ("ifbench", "ifbench", 3)
    assert task.examples[1].messages == [{"role": "user", "content": "No spaces, one number."}]
    completions = [
        "elgae dlab",  # followed
        "Sure:\nonly1number",  # strict: the space and the line break break no_whitespace; loose drops line 1
        "1 2",  # one number short
    ]
    result = score(task.kind, completions, [e.ground_truth for e in task.examples])
    # strict: prompts 1/3, instructions 1 + 1 (count:numbers) + 0 = 2/4; loose: prompts 2/3, instructions 3/4
    assert result.metrics == pytest.approx(
        {
            "prompt_level_strict": 1 / 3,
            "instruction_level_strict": 2 / 4,
            "prompt_level_loose": 2 / 3,
            "instruction_level_loose": 3 / 4,
        }
    )
    assert result.value == pytest.approx(2 / 3)
    assert result.details[1] == {"strict": [False, True], "loose": [True, True]}


def test_ifbench_task_rejects_an_unknown_id_naming_the_row(tmp_path):
    from tulu_recipes.evaluation.tasks import build_task

    path = tmp_path / "rows.jsonl"
    rows = [_row("1", "p", ["count:numbers"], [{"N": 1}]), _row("2", "q", ["count:nope"], [{}])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(ValueError, match=r"row 1: unknown IFBench instruction id 'count:nope'"):
        build_task(f"ifbench={path}")


def test_offline_prompts_cover_every_constraint_and_are_seeded():
    from tulu_recipes.evaluation.tasks import build_task

    first = build_task("ifbench_offline", seed=7)
    again = build_task("ifbench_offline", seed=7)
    other = build_task("ifbench_offline=1", seed=8)
    assert len(first.examples) == 116 and len(other.examples) == 58
    assert [e.messages for e in first.examples] == [e.messages for e in again.examples]
    assert [e.messages for e in first.examples[:58]] != [e.messages for e in other.examples]
    assert {e.ground_truth["instruction_id_list"][0] for e in other.examples} == set(IDS)
    for example in other.examples:  # every drawn argument set is one the verifier accepts
        (iid,) = example.ground_truth["instruction_id_list"]
        kwargs = example.ground_truth["kwargs"][0]
        for key, value in kwargs.items():
            if key != "prompt_to_repeat":
                assert str(value) in example.messages[0]["content"], (iid, key)
    span = next(e for e in other.examples if e.ground_truth["instruction_id_list"] == ["repeat:repeat_span"])
    kw = span.ground_truth["kwargs"][0]
    assert check_one("repeat:repeat_span", kw["prompt_to_repeat"][kw["n_start"] : kw["n_end"] + 1], kw) is True


def test_cli_writes_run_eval_files_and_prints_the_four_accuracies(tmp_path, capsys):
    from rewards.ifbench.__main__ import main

    rows = [
        _row("1", "Reverse it.", ["custom:character_reverse"], [{}]),
        _row("2", "One number, no spaces. ", ["format:no_whitespace", "count:numbers"], [{}, {"N": 1}]),
        _row("3", "Unanswered.", ["count:numbers"], [{"N": 1}]),
    ]
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    answers = [
        {"prompt": "Reverse it.", "response": "elgae dlab"},
        {"prompt": "One number, no spaces.", "response": "a 1"},
    ]
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps(r) + "\n" for r in answers), encoding="utf-8")
    assert (
        main(["--input_data", str(inputs), "--input_response_data", str(responses), "--output_dir", str(tmp_path)]) == 0
    )
    # prompts: 1 of 3 followed; instructions: 2 of 4 (row 2 keeps its number, loses no_whitespace; row 3 has no answer)
    assert capsys.readouterr().out.split("\n")[:2] == ["prompt_level_strict: 33.33", "instruction_level_strict: 50.00"]
    strict = [json.loads(x) for x in (tmp_path / "eval_results_strict.jsonl").read_text().splitlines()]
    assert [r["follow_instruction_list"] for r in strict] == [[True], [False, True], [False]]
