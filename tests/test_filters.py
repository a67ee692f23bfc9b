"""The paper's filters (§2.4) on crafted rows: what is dropped, what is kept, and how removals are counted."""

from __future__ import annotations

import datasets
import pytest

from tulu_recipes.data import DEFAULT_IDENTITY_KEYWORDS, FilterConfig, apply_filters
from tulu_recipes.data.filters import identity_pattern

datasets.disable_progress_bars()


def _sft(user: str, assistant: str | None) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def _kept(rows: list[dict], kind: str = "sft", config: FilterConfig | None = None) -> tuple[list[dict], dict]:
    ds, removed = apply_filters(datasets.Dataset.from_list(rows), kind, config)
    return ds.to_list(), removed


def test_default_keywords_are_the_papers_list():
    assert len(DEFAULT_IDENTITY_KEYWORDS) == 18
    assert DEFAULT_IDENTITY_KEYWORDS[:3] == ("OpenAI", "Open AI", "ChatGPT")
    assert {"GPT 3.5", "BingChat", "LAION", "Open Assistant", "OpenAssistant"} <= set(DEFAULT_IDENTITY_KEYWORDS)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("I was trained by OpenAI.", True),
        ("i am chatgpt", True),
        ("Like gpt-4, I can", True),
        ("Based on GPT 3.5 turbo", True),
        ("LAION's data", True),
        ("the open assistant project", True),
        ("an openaiish vibe", False),
        ("reopenai", False),
        ("GPT-40 is not a model", False),
        ("chat gpts", False),
    ],
)
def test_identity_pattern_word_boundaries(text, hit):
    assert bool(identity_pattern(DEFAULT_IDENTITY_KEYWORDS).search(text)) is hit


def test_identity_only_in_assistant_turns_and_empty_turns():
    rows = [
        _sft("Are you ChatGPT?", "No, I am Tülu."),  # keyword in the user turn: kept
        _sft("Who made you?", "OpenAI made me."),  # keyword in the assistant turn: dropped
        _sft("Word?", "That is openaiish."),  # keyword inside a longer word: kept
        _sft("Hi", "   \n"),  # blank assistant turn: dropped
        _sft("", "answer"),  # empty user turn: dropped
        _sft("q", None),  # None content: dropped
        _sft("  ", "I am GPT4"),  # both problems: counted once, under empty_turns
    ]
    kept, removed = _kept(rows)
    assert [r["messages"][0]["content"] for r in kept] == ["Are you ChatGPT?", "Word?"]
    assert removed == {"empty_turns": 4, "identity": 1}


def test_preference_filters_look_at_chosen_rejected_and_prompt():
    def row(prompt: str, chosen: str, rejected: str) -> dict:
        return {
            "prompt": [{"role": "user", "content": prompt}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }

    rows = [
        row("Is this OpenAI?", "no", "no"),  # user-turn keyword: kept
        row("q", "fine", "As an OpenAI model"),  # identity in rejected: dropped
        row("q", "I am Bing Chat", "fine"),  # identity in chosen: dropped
        row(" ", "a", "b"),  # empty prompt turn: dropped
        row("q", "a", ""),  # empty rejected: dropped
    ]
    kept, removed = _kept(rows, "preference")
    assert [r["prompt"][0]["content"] for r in kept] == ["Is this OpenAI?"]
    assert removed == {"empty_turns": 2, "identity": 2}


def test_config_switches_and_custom_keywords():
    rows = [_sft("q", "I am Claude."), _sft("q", "By OpenAI."), _sft("q", "")]
    kept, removed = _kept(rows, config=FilterConfig(identity_keywords=["Claude"]))
    assert [r["messages"][1]["content"] for r in kept] == ["By OpenAI."]
    assert removed == {"empty_turns": 1, "identity": 1}
    kept, removed = _kept(rows, config=FilterConfig(drop_identity=False))
    assert len(kept) == 2 and removed == {"empty_turns": 1, "identity": 0}
    kept, removed = _kept(rows, config=FilterConfig(drop_empty_turns=False, drop_identity=False))
    assert len(kept) == 3 and removed == {"empty_turns": 0, "identity": 0}
