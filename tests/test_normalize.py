"""Each accepted input format normalizes to the exact expected structure; bad inputs raise named errors."""

from __future__ import annotations

import datasets
import pytest

from tulu_recipes.data import DataError, normalize

datasets.disable_progress_bars()


def _u(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _a(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def _norm(rows: list[dict], kind: str, label: str = "src", **kw) -> list[dict]:
    return normalize(datasets.Dataset.from_list(rows), kind, label, **kw).to_list()


# --- sft ---


def test_sft_messages_keep_only_role_content_and_source():
    rows = [{"messages": [{"role": "user", "content": "hi", "name": "x"}, _a("hello")], "id": 7, "lang": "en"}]
    ds = normalize(datasets.Dataset.from_list(rows), "sft", "my-src")
    assert ds.column_names == ["messages", "source"]
    assert ds.to_list() == [{"messages": [_u("hi"), _a("hello")], "source": "my-src"}]


def test_sft_sharegpt_conversations_map_roles():
    rows = [
        {
            "conversations": [
                {"from": "system", "value": "be brief"},
                {"from": "human", "value": "2+2?"},
                {"from": "gpt", "value": "4"},
            ]
        }
    ]
    assert _norm(rows, "sft") == [
        {"messages": [{"role": "system", "content": "be brief"}, _u("2+2?"), _a("4")], "source": "src"}
    ]


def test_sft_conversations_with_role_content():
    rows = [{"conversations": [_u("a"), _a("b")]}]
    assert _norm(rows, "sft")[0]["messages"] == [_u("a"), _a("b")]


def test_sft_prompt_completion_strings_and_lists():
    assert _norm([{"prompt": "p", "completion": "c"}], "sft")[0]["messages"] == [_u("p"), _a("c")]
    rows = [{"prompt": [{"role": "system", "content": "s"}, _u("p")], "completion": [_a("c")]}]
    assert _norm(rows, "sft")[0]["messages"] == [{"role": "system", "content": "s"}, _u("p"), _a("c")]


def test_sft_instruction_output_appends_input_after_blank_line():
    rows = [
        {"instruction": "Translate.", "input": "Bonjour", "output": "Hello"},
        {"instruction": "Say hi.", "input": "  ", "output": "Hi"},
    ]
    out = _norm(rows, "sft")
    assert out[0]["messages"] == [_u("Translate.\n\nBonjour"), _a("Hello")]
    assert out[1]["messages"] == [_u("Say hi."), _a("Hi")]


def test_sft_missing_columns_error_names_source_columns_and_expectation():
    with pytest.raises(DataError) as err:
        _norm([{"text": "x", "id": 1}], "sft", label="org/weird")
    msg = str(err.value)
    assert "org/weird" in msg
    assert "['id', 'text']" in msg
    assert "messages" in msg and "conversations" in msg and "instruction+output" in msg


# --- preference ---


def test_preference_tulu_format_splits_shared_prefix():
    prefix = [_u("q1"), _a("a1"), _u("q2")]
    rows = [{"chosen": [*prefix, _a("good")], "rejected": [*prefix, _a("bad")], "chosen_rating": 5.0}]
    ds = normalize(datasets.Dataset.from_list(rows), "preference", "pref")
    assert ds.column_names == ["prompt", "chosen", "rejected", "source"]
    assert ds.to_list() == [{"prompt": prefix, "chosen": [_a("good")], "rejected": [_a("bad")], "source": "pref"}]


def test_preference_redundant_prompt_string_next_to_full_conversations_is_ignored():
    rows = [{"prompt": "q", "chosen": [_u("q"), _a("y")], "rejected": [_u("q"), _a("n")]}]
    assert _norm(rows, "preference")[0]["prompt"] == [_u("q")]


def test_preference_trl_explicit_strings_and_lists():
    out = _norm([{"prompt": "q", "chosen": "y", "rejected": "n"}], "preference")
    assert out == [{"prompt": [_u("q")], "chosen": [_a("y")], "rejected": [_a("n")], "source": "src"}]
    sys_msg = {"role": "system", "content": "s"}
    rows = [{"prompt": [sys_msg, _u("q")], "chosen": [_a("y")], "rejected": [_a("n")]}]
    assert _norm(rows, "preference")[0]["prompt"] == [sys_msg, _u("q")]


def test_preference_differing_prefixes_name_source_and_row():
    good = {"chosen": [_u("q"), _a("y")], "rejected": [_u("q"), _a("n")]}
    bad = {"chosen": [_u("q"), _a("y")], "rejected": [_u("other q"), _a("n")]}
    with pytest.raises(DataError, match=r"source 'prefs', row 1: .*do not share the same prompt"):
        _norm([good, bad], "preference", label="prefs")


def test_preference_missing_rejected_lists_columns():
    with pytest.raises(DataError, match=r"it has columns \['chosen', 'prompt'\], expected chosen\+rejected"):
        _norm([{"prompt": "q", "chosen": "y"}], "preference")


# --- rlvr ---


def test_rlvr_open_instruct_format_drops_trailing_assistant_and_dumps_ground_truth():
    rows = [
        {"messages": [_u("2+2?"), _a("4")], "ground_truth": "4", "dataset": "gsm8k", "id": "a"},
        {"messages": [_u("list?")], "ground_truth": [3, 4], "dataset": ["ifeval"], "id": "b"},
    ]
    ds = normalize(datasets.Dataset.from_list(rows[:1]), "rlvr", "r")
    assert ds.column_names == ["prompt", "ground_truth", "dataset", "source"]
    assert ds.to_list() == [{"prompt": [_u("2+2?")], "ground_truth": "4", "dataset": "gsm8k", "source": "r"}]
    out = _norm(rows[1:], "rlvr")
    assert out[0]["ground_truth"] == "[3, 4]"
    assert out[0]["dataset"] == "ifeval"


def test_rlvr_trl_prompt_string_with_dataset_from_spec():
    rows = [{"prompt": "What is 6*7?", "ground_truth": 42}]
    out = _norm(rows, "rlvr", dataset_name="gsm8k")
    assert out == [{"prompt": [_u("What is 6*7?")], "ground_truth": "42", "dataset": "gsm8k", "source": "src"}]


def test_rlvr_without_dataset_anywhere_is_an_error():
    with pytest.raises(DataError, match=r"source 'math': rlvr data needs a `dataset` column"):
        _norm([{"prompt": "q", "ground_truth": "1"}], "rlvr", label="math")


def test_rlvr_prompt_must_end_with_user_turn():
    rows = [{"messages": [{"role": "system", "content": "s"}], "ground_truth": "1", "dataset": "gsm8k"}]
    with pytest.raises(DataError, match=r"row 0: the prompt must end with a user turn"):
        _norm(rows, "rlvr")


def test_unknown_kind():
    with pytest.raises(DataError, match="unknown data kind 'dpo'"):
        _norm([{"messages": []}], "dpo")
