"""Mixture semantics (open-instruct HEAD): per-source fractions, counts, upsampling, seeds, table, errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest

from tulu_recipes.data import DataError, FilterConfig, load_mixture, sample_indices, target_rows
from tulu_recipes.data.sources import looks_like_hub_id

datasets.disable_progress_bars()


def _row(i: int, answer: str | None = None, tag: str = "a") -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"{tag}{i}"},
            {"role": "assistant", "content": answer if answer is not None else f"answer {i}"},
        ],
        "score": i,
    }


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """a.jsonl: 10 rows a0..a9; b.jsonl: 4 rows b0..b3; bad.jsonl: clean c0..c5, c6 empty, c7 identity."""
    _write_jsonl(tmp_path / "a.jsonl", [_row(i) for i in range(10)])
    _write_jsonl(tmp_path / "b.jsonl", [_row(i, tag="b") for i in range(4)])
    bad = [_row(i, tag="c") for i in range(6)] + [
        _row(6, "", tag="c"),
        _row(7, "Trained by OpenAI.", tag="c"),
    ]
    _write_jsonl(tmp_path / "bad.jsonl", bad)
    return tmp_path


def _mix(data: Path, sources, **kw):
    kw.setdefault("kind", "sft")
    return load_mixture(sources, base_dir=data, cache_dir=str(data / "cache"), **kw)


def _users(ds: datasets.Dataset) -> list[str]:
    return [m[0]["content"] for m in ds["messages"]]


def test_rounding_and_sampling_helpers():
    assert [target_rows(10, f, None) for f in (0.5, 0.3, 0.25, 0.24, 2.5, 0.0)] == [5, 3, 3, 2, 25, 0]
    assert target_rows(7, None, None) == 7 and target_rows(7, None, 20) == 20
    idx = sample_indices(4, 10, np.random.default_rng(0))
    assert sorted(Counter(idx.tolist()).values()) == [2, 2, 3, 3]


def test_fraction_of_each_source(data):
    result = _mix(data, [{"path": "a.jsonl", "fraction": 0.5}, {"path": "b.jsonl", "fraction": 0.5}])
    users = _users(result.train)
    assert len(users) == 7  # 5 of 10 + 2 of 4, not TRL's share-of-the-total
    assert len(set(users)) == 7
    assert Counter(result.train["source"]) == {"a.jsonl": 5, "b.jsonl": 2}
    assert result.train.column_names == ["messages", "source"]
    assert result.test is None


def test_upsampling_fraction_and_count(data):
    result = _mix(data, [{"path": "a.jsonl", "fraction": 2.5}])
    counts = Counter(_users(result.train))
    assert len(result.train) == 25
    assert set(counts) == {f"a{i}" for i in range(10)}
    assert sorted(counts.values()) == [2] * 5 + [3] * 5
    counts = Counter(_users(_mix(data, [{"path": "b.jsonl", "count": 6}]).train))
    assert sorted(counts.values()) == [1, 1, 2, 2]
    small = _mix(data, [{"path": "a.jsonl", "count": 3}]).train
    assert len(small) == 3 and len(set(_users(small))) == 3


def test_seeds_are_reproducible_and_sources_independent(data):
    spec = [{"path": "a.jsonl", "fraction": 0.5}, {"path": "b.jsonl", "count": 3}]
    first, again = _users(_mix(data, spec).train), _users(_mix(data, spec).train)
    assert first == again
    other = _users(_mix(data, spec, seed=7).train)
    assert other != first
    # Changing source #0 must not change which rows source #1 contributes (one generator per source).
    changed = _users(_mix(data, [{"path": "a.jsonl", "fraction": 0.3}, spec[1]]).train)
    assert Counter(u for u in changed if u.startswith("b")) == Counter(u for u in first if u.startswith("b"))


def test_dict_form_float_is_fraction_int_is_count(data):
    result = _mix(data, {"a.jsonl": 0.3, "b.jsonl": 1})
    assert result.table[0]["fraction"] == 0.3 and result.table[0]["taken"] == 3
    assert result.table[1]["count"] == 1 and result.table[1]["taken"] == 1


def test_table_counts_filters_and_per_source_switch(data):
    result = _mix(
        data,
        [
            {"path": "bad.jsonl", "fraction": 0.5, "label": "filtered"},
            {"path": "bad.jsonl", "label": "hardcoded", "filters": False},
        ],
    )
    filtered, hardcoded = result.table
    assert filtered == {
        "source": "filtered",
        "path": "bad.jsonl",
        "available": 8,
        "after_filters": 6,
        "removed_empty_turns": 1,
        "removed_identity": 1,
        "filters": True,
        "fraction": 0.5,
        "count": None,
        "asked": "fraction 0.5",
        "taken": 3,
    }
    assert hardcoded["after_filters"] == 8 and hardcoded["taken"] == 8 and hardcoded["removed_identity"] == 0
    assert Counter(result.train["source"]) == {"filtered": 3, "hardcoded": 8}
    filtered_users = [
        m[0]["content"]
        for m, s in zip(result.train["messages"], result.train["source"], strict=True)
        if s == "filtered"
    ]
    assert not {"c6", "c7"} & set(filtered_users)
    md = result.to_markdown()
    assert "| filtered | 8 | 6 | 1 | 1 | fraction 0.5 | 3 |" in md
    assert "| **total** | 16 | 14 | 1 | 1 | | 11 |" in md
    saved = json.loads(json.dumps(result.to_dict()))
    assert saved["train_rows"] == 11 and saved["sources"][1]["source"] == "hardcoded"
    assert saved["filters"]["identity_keywords"][0] == "OpenAI"
    no_filters = _mix(data, [{"path": "bad.jsonl"}], filters=FilterConfig(drop_empty_turns=False, drop_identity=False))
    assert len(no_filters.train) == 8


def test_test_split_is_seeded_and_disjoint(data):
    spec = [{"path": "a.jsonl", "fraction": 2.0}]
    result = _mix(data, spec, test_size=0.2)
    assert (len(result.train), len(result.test)) == (16, 4)
    assert Counter(_users(result.train)) + Counter(_users(result.test)) == Counter(
        f"a{i}" for i in range(10) for _ in "xy"
    )
    again = _mix(data, spec, test_size=0.2)
    assert _users(again.test) == _users(result.test)
    assert len(_mix(data, spec, test_size=3).test) == 3
    with pytest.raises(DataError, match="test_size=20 gives 20 test rows out of 20"):
        _mix(data, spec, test_size=20)


def test_local_formats_and_path_resolution(data, tmp_path, monkeypatch):
    rows = [_row(i, tag="p") for i in range(5)]
    datasets.Dataset.from_list(rows).to_parquet(str(data / "p.parquet"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:2])}).save_to_disk(str(data / "saved"))
    result = _mix(data, [{"path": "p.parquet"}, {"path": str(data / "saved")}])
    assert result.table[0]["taken"] == 5 and result.table[1]["taken"] == 2
    # Relative paths fall back to the current directory when absent from base_dir.
    monkeypatch.chdir(data)
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert len(load_mixture([{"path": "b.jsonl"}], kind="sft", base_dir=other, cache_dir=str(data / "c")).train) == 4


def test_missing_local_path_is_named(data):
    with pytest.raises(DataError, match=r"'missing\.jsonl': no such local file .*not a Hub id"):
        _mix(data, [{"path": "missing.jsonl"}])
    with pytest.raises(DataError, match=r"'data/missing\.jsonl': no such local file"):
        _mix(data, [{"path": "data/missing.jsonl"}])
    assert looks_like_hub_id("allenai/tulu-3-sft-mixture")
    assert not looks_like_hub_id("gsm8k") and not looks_like_hub_id("data/x.jsonl")


def test_spec_validation_errors(data):
    with pytest.raises(DataError, match=r"unknown key `fracton`; did you mean `fraction`\?"):
        _mix(data, [{"path": "a.jsonl", "fracton": 0.5}])
    with pytest.raises(DataError, match="either `fraction` or `count`, not both"):
        _mix(data, [{"path": "a.jsonl", "fraction": 0.5, "count": 2}])
    with pytest.raises(DataError, match=r"`count` must be an integer >= 0, got 2\.5"):
        _mix(data, [{"path": "a.jsonl", "count": 2.5}])
    with pytest.raises(DataError, match="`dataset` only applies to kind='rlvr'"):
        _mix(data, [{"path": "a.jsonl", "dataset": "gsm8k"}])
    with pytest.raises(DataError, match="no sources"):
        _mix(data, [])


def test_empty_mixture_says_why(data):
    with pytest.raises(DataError, match=r"sft mixture is empty: 'a\.jsonl': fraction 0 of 10 rows gives 0 rows"):
        _mix(data, [{"path": "a.jsonl", "fraction": 0.0}])
    _write_jsonl(data / "all_bad.jsonl", [_row(0, "ChatGPT here"), _row(1, " ")])
    with pytest.raises(DataError, match=r"filters removed all 2 rows \(empty_turns: 1, identity: 1\)"):
        _mix(data, [{"path": "all_bad.jsonl"}])


def test_missing_columns_error_from_mixture(data):
    _write_jsonl(data / "text.jsonl", [{"text": "hello", "id": 1}])
    with pytest.raises(DataError, match=r"source 'plain': .*has columns \['id', 'text'\], expected messages"):
        _mix(data, [{"path": "text.jsonl", "label": "plain"}])


def test_preference_sources_in_different_formats_mix(data):
    tulu = [
        {
            "chosen": [{"role": "user", "content": f"t{i}"}, {"role": "assistant", "content": "y"}],
            "rejected": [{"role": "user", "content": f"t{i}"}, {"role": "assistant", "content": "n"}],
            "chosen_rating": 5,
        }
        for i in range(4)
    ]
    trl = [{"prompt": f"e{i}", "chosen": "y", "rejected": "As an OpenAI model"} for i in range(3)]
    _write_jsonl(data / "tulu.jsonl", tulu)
    _write_jsonl(data / "trl.jsonl", trl + [{"prompt": "e9", "chosen": "y", "rejected": "n"}])
    result = _mix(data, [{"path": "tulu.jsonl"}, {"path": "trl.jsonl"}], kind="preference")
    assert result.train.column_names == ["prompt", "chosen", "rejected", "source"]
    assert sorted(p[0]["content"] for p in result.train["prompt"]) == ["e9", "t0", "t1", "t2", "t3"]
    assert result.table[1]["removed_identity"] == 3


def test_rlvr_dataset_filled_from_spec(data):
    _write_jsonl(data / "gsm.jsonl", [{"messages": [{"role": "user", "content": "1+1?"}], "ground_truth": 2}])
    result = _mix(data, [{"path": "gsm.jsonl", "dataset": "gsm8k"}], kind="rlvr")
    assert result.train.to_list() == [
        {
            "prompt": [{"role": "user", "content": "1+1?"}],
            "ground_truth": "2",
            "dataset": "gsm8k",
            "source": "gsm.jsonl",
        }
    ]


def test_upsampling_remainder_is_drawn_without_replacement():
    """fraction 1.9 of 10 rows: every row once, then 9 *distinct* rows again (open-instruct's shuffle-and-take).
    Over 50 seeds, a remainder drawn with replacement would repeat a row with probability ~1 - 1e-100."""
    import numpy as np

    from tulu_recipes.data.mixer import sample_indices

    for seed in range(50):
        picked = sample_indices(10, 19, np.random.default_rng(seed))
        counts = np.bincount(picked, minlength=10)
        assert len(picked) == 19 and sorted(counts.tolist()) == [1] + [2] * 9, seed
        assert picked[:10].tolist() == list(range(10))
