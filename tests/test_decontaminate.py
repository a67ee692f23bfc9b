"""Decontamination rules on planted overlaps: both thresholds, the one-training-instance rule, n-grams."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tulu_recipes.data.decontamination import (
    build_index,
    match_rows,
    prompt_segments,
    scan,
    tokenize,
)
from tulu_recipes.data.decontamination.index import token_hash
from tulu_recipes.data.decontamination.match import batch_tokens


def words(prefix: str, lo: int, hi: int) -> str:
    """Distinct words ``prefix<lo> ... prefix<hi-1>`` joined by spaces."""
    return " ".join(f"{prefix}{i}" for i in range(lo, hi))


EVAL40 = words("e", 0, 40)  # one evaluation instance of exactly 40 distinct tokens


def coverage(train: list[str] | str, eval_text: str = EVAL40, ngram: int = 8, threshold: float = 0.0) -> int:
    """Tokens of the one eval instance covered by one training row (0 when not above ``threshold``)."""
    index = build_index({"ev": [eval_text]}, ngram=ngram)
    rows, inst, covered = match_rows(index, [prompt_segments(train)], threshold)
    assert rows.tolist() in ([], [0]) and inst.tolist() in ([], [0])
    return int(covered[0]) if covered.size else 0


# --- tokenization -----------------------------------------------------------------------------------------


def test_tokenizer_normalizes_case_width_and_punctuation():
    assert tokenize("Janet’s ducks, LAY 16 eggs!") == ["janet", "s", "ducks", "lay", "16", "eggs"]
    assert tokenize("ＦＵＬＬ－width ﬁne") == ["full", "width", "fine"]  # NFKC folds width and ligatures
    assert tokenize("Straße") == tokenize("STRASSE") == ["strasse"]
    assert tokenize(r"$\frac{1}{2}$ x_1") == ["frac", "1", "2", "x_1"]
    assert tokenize("  ...  ") == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.text(max_size=40), max_size=3), max_size=4))
def test_fast_batch_tokenizer_equals_reference(rows):
    expected: list[str] = []
    for segments in rows:
        for segment in segments:
            expected += tokenize(segment) + ["ZZSEGMENT"]
        expected.append("ZZROW")
    assert batch_tokens(rows) == expected


def test_hashes_are_fixed_constants_not_process_seeded():
    # xxh64 with seed 0: the same value in every process (unlike Python's salted hash())
    assert token_hash("hello") == 0x26C7827D889F6DA3
    a, b = build_index({"ev": [EVAL40]}), build_index({"ev": [EVAL40]})
    assert a.tables[8].keys.tolist() == b.tables[8].keys.tolist()
    assert a.tables[8].keys.size == 33  # 40 - 8 + 1 distinct 8-grams


# --- overlap threshold (> 50% of the eval instance's tokens, from ONE training instance) ------------------


def test_overlap_threshold_21_of_40_overlaps_20_of_40_does_not():
    assert coverage(words("e", 0, 21), threshold=0.5) == 21
    assert coverage(words("e", 0, 20), threshold=0.5) == 0
    assert coverage(words("e", 0, 20)) == 20  # it is shared, just not enough
    # the same inside a longer training prompt, with different surrounding text and punctuation
    wrapped = "Please help: " + words("e", 19, 40).replace(" ", ", ") + ". Thanks!"
    assert coverage(wrapped, threshold=0.5) == 21


def test_coverage_split_across_two_training_instances_does_not_count():
    index = build_index({"ev": [EVAL40]})
    halves = [[words("e", 0, 15)], [words("e", 15, 30)]]  # 15 + 15 = 30 of 40 tokens, but in different rows
    rows, _, _ = match_rows(index, halves, 0.5)
    assert rows.size == 0
    # within ONE training instance the union counts: the same halves as two user turns of one conversation
    chat = [
        {"role": "user", "content": words("e", 0, 15)},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": words("e", 15, 30)},
    ]
    assert coverage(chat, threshold=0.5) == 30
    report = scan(index, {"split": [h[0] for h in halves], "joined": [chat]})
    assert report.cell("split", "ev").count == 0
    assert report.cell("joined", "ev").overlapping == [0]


def test_coverage_is_the_union_of_positions_of_shared_ngrams():
    # three separate shared runs of 8, 9 and 10 tokens: 27 positions, overlapping 8-grams counted once
    train = " ".join([words("e", 0, 8), "x", words("e", 12, 21), "y", words("e", 30, 40)])
    assert coverage(train) == 27
    # repeating a shared run in the training prompt does not add coverage
    assert coverage(" z ".join([words("e", 0, 10)] * 3)) == 10


# --- n-gram boundaries ------------------------------------------------------------------------------------


def test_seven_shared_tokens_never_match_eight_do():
    assert coverage(words("e", 0, 7)) == 0
    assert coverage(words("e", 0, 8)) == 8
    assert coverage(words("e", 0, 3), ngram=3) == 3
    assert coverage(words("e", 0, 2), ngram=3) == 0
    # a 7-token run followed by a different token is not an 8-gram
    assert coverage(words("e", 0, 7) + " e8") == 0
    # the last 8 tokens of the instance (end boundary)
    assert coverage(words("e", 32, 40)) == 8


def test_ngrams_never_span_two_user_turns_or_two_rows():
    chat = [{"role": "user", "content": words("e", 0, 4)}, {"role": "user", "content": words("e", 4, 8)}]
    assert coverage(chat) == 0
    assert coverage(words("e", 0, 8)) == 8
    index = build_index({"ev": [EVAL40]})
    rows, _, _ = match_rows(index, [[words("e", 0, 4)], [words("e", 4, 8)]])
    assert rows.size == 0


def test_prompts_only_assistant_and_system_text_is_ignored():
    chat = [
        {"role": "system", "content": EVAL40},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": EVAL40},
    ]
    assert coverage(chat) == 0
    assert coverage({"messages": chat + [{"role": "user", "content": EVAL40}]}) == 40
    assert coverage({"question": EVAL40, "messages": chat}) == 0
    index = build_index({"ev": [EVAL40]})
    rows, _, _ = match_rows(index, [prompt_segments({"question": EVAL40}, "question")])
    assert rows.tolist() == [0]


def test_eval_instances_shorter_than_n_match_only_as_a_whole():
    short = r"Compute $\dbinom{31}{28}$."  # 4 tokens: compute dbinom 31 28
    index = build_index({"math": [short, EVAL40, "", "!!"]})
    assert index.inst_len.tolist() == [4, 40, 0, 0]
    texts = [
        r"Please compute $\dbinom{31}{28}$ for me.",  # contains the whole instance: fully covered
        "compute dbinom 31",  # only part of it
        "compute the dbinom 31 28",  # not contiguous
        "anything at all",
    ]
    rows, inst, covered = match_rows(index, [[t] for t in texts])
    assert (rows.tolist(), inst.tolist(), covered.tolist()) == ([0], [0], [4])


# --- contamination threshold (> 2% of an eval set's instances) --------------------------------------------


def test_contamination_threshold_3_of_100_vs_2_of_100():
    eval_set = [words(f"q{i}w", 0, 12) for i in range(100)]
    index = build_index({"bench": eval_set, "other": [EVAL40]})
    clean = [words("c", i, i + 20) for i in range(50)]
    report = scan(index, {"three": clean + eval_set[10:13], "two": clean + eval_set[40:42]})
    three, two = report.cell("three", "bench"), report.cell("two", "bench")
    assert (three.count, three.fraction, three.contaminated) == (3, 0.03, True)
    assert (two.count, two.fraction, two.contaminated) == (2, 0.02, False)
    assert three.overlapping == [10, 11, 12]
    assert report.flagged_rows == {"three": [50, 51, 52], "two": [50, 51]}
    assert report.contaminated_sources == ["three"]
    assert not report.cell("three", "other").contaminated
    # both thresholds are parameters
    strict = scan(index, {"two": clean + eval_set[40:42]}, contamination_threshold=0.01)
    assert strict.contaminated_sources == ["two"]


def test_parallel_scan_matches_serial_scan():
    rng = np.random.default_rng(0)
    eval_set = [words(f"q{i}w", 0, 10) for i in range(30)]
    index = build_index({"bench": eval_set})
    vocab = [f"q{i}w{j}" for i in range(30) for j in range(10)]
    train = [" ".join(rng.choice(vocab, size=int(rng.integers(5, 40)))) for _ in range(3000)]
    train += eval_set[:5] + [eval_set[7][:40] + " " + eval_set[7]]
    serial = scan(index, {"s": train}, batch_size=500, num_proc=1)
    parallel = scan(index, {"s": train}, batch_size=500, num_proc=2)
    assert serial.to_dict() == parallel.to_dict()
    assert serial.cell("s", "bench").overlapping == [0, 1, 2, 3, 4, 7]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        build_index({"ev": [EVAL40]}, ngram=0)
    with pytest.raises(KeyError):
        prompt_segments({"text": "x"}, "question")
