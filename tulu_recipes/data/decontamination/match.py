"""Matching a batch of training prompts against an ``EvalIndex``.

Rule: a training instance (one row; all of its prompt segments) and an evaluation instance share an n-gram
when the same n consecutive tokens occur in both (n-grams never span two segments of the row). The coverage of
the pair is the number of distinct token positions of the EVALUATION instance lying inside at least one n-gram
it shares with that one training instance. The pair overlaps when ``coverage / len(eval instance) >
overlap_threshold``. Coverage is never pooled across training instances.

The batch is processed as one flat ``int32`` token-id array (separators are ``-1``), so all hashing, lookups,
verification and coverage counting are vectorized numpy; only tokenization is a Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import numpy as np

from tulu_recipes.data.decontamination.index import ROW_MARK, EvalIndex, kgram_keys
from tulu_recipes.data.decontamination.text import ROW_TOKEN, SEGMENT_TOKEN, TOKEN_RE, normalize

_EMPTY = np.zeros(0, dtype=np.int64)


# Byte table: ASCII non-word bytes become spaces; ASCII word bytes and all bytes >= 0x80 are kept.
_ASCII_WORD = {ord(c) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"}
_BLANK_NON_WORD = bytes(b if b >= 0x80 or b in _ASCII_WORD else 0x20 for b in range(256))


def batch_tokens(rows: Sequence[Sequence[str]]) -> list[str]:
    """Tokens of a batch, a ``SEGMENT_TOKEN`` after each segment and a ``ROW_TOKEN`` after each row.

    Equal to ``tokenize`` per segment, but fast: a non-ASCII segment is first reduced to its word tokens
    joined by spaces (so every remaining non-ASCII byte belongs to a word); then the ASCII non-word bytes of
    the whole batch are blanked by one ``bytes.translate`` and the result is split on whitespace.
    """
    pieces: list[str] = []
    for segments in rows:
        for segment in segments:
            text = normalize(segment)
            pieces.append(text if text.isascii() else " ".join(TOKEN_RE.findall(text)))
            pieces.append(SEGMENT_TOKEN)
        pieces.append(ROW_TOKEN)
    return " ".join(pieces).encode("utf-8").translate(_BLANK_NON_WORD).decode("utf-8").split()


def encode_rows(index: EvalIndex, rows: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of a batch and the row of every position.

    Unknown tokens and segment separators are -1 and each row ends with a ``ROW_MARK``.
    """
    tokens = batch_tokens(rows)
    ids = np.array(list(map(index.lookup.get, tokens, repeat(-1))), dtype=np.int32)
    is_row = ids == ROW_MARK
    row_of_pos = np.cumsum(is_row, dtype=np.int64) - is_row
    return ids, row_of_pos


def _expand_postings(table, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each slot, the posting indices of its key; returns (which slot, posting value)."""
    lo, hi = table.starts[slots], table.starts[slots + 1]
    counts = hi - lo
    owner = np.repeat(np.arange(slots.size), counts)
    within = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, table.postings[lo[owner] + within]


def covered_positions(index: EvalIndex, ids: np.ndarray, row_of_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique ``(row, eval position)`` pairs: eval token positions covered by n-grams shared with that row."""
    rows_out, pos_out = [], []
    # Row marks (-2) pick some real token's hash; harmless, the window check below rejects them.
    hashes = index.token_hashes[ids]
    bad = np.zeros(ids.size + 1, dtype=np.int32)
    np.cumsum(ids < 0, dtype=np.int32, out=bad[1:])
    for k, keys in kgram_keys(hashes, index.tables):
        table = index.tables[k]
        if k == index.ngram:
            cand = np.flatnonzero(index.bitmap[keys >> index.bitmap_shift])
        else:  # a handful of whole short instances
            cand = np.flatnonzero(np.isin(keys, table.keys))
        cand = cand[bad[cand + k] == bad[cand]]
        if cand.size == 0:
            continue
        ckeys = keys[cand]
        slots = np.minimum(np.searchsorted(table.keys, ckeys), table.keys.size - 1)
        found = table.keys[slots] == ckeys
        cand, slots = cand[found], slots[found]
        if cand.size == 0:
            continue
        owner, gpos = _expand_postings(table, slots)
        tpos = cand[owner]
        offs = np.arange(k)
        same = (ids[tpos[:, None] + offs] == index.flat_ids[gpos[:, None] + offs]).all(axis=1)
        tpos, gpos = tpos[same], gpos[same]
        rows_out.append(np.repeat(row_of_pos[tpos], k))
        pos_out.append((gpos[:, None] + offs).ravel())
    if not rows_out:
        return _EMPTY, _EMPTY
    width = np.int64(index.flat_ids.size)
    combined = np.unique(np.concatenate(rows_out) * width + np.concatenate(pos_out))
    return combined // width, combined % width


def match_rows(
    index: EvalIndex, rows: Sequence[Sequence[str]], overlap_threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlapping pairs of a batch: arrays ``(row in batch, global eval instance, covered token count)``."""
    ids, row_of_pos = encode_rows(index, rows)
    row, pos = covered_positions(index, ids, row_of_pos)
    if row.size == 0:
        return _EMPTY, _EMPTY, _EMPTY
    inst = index.inst_of_pos[pos].astype(np.int64)
    pair, covered = np.unique(row * index.n_instances + inst, return_counts=True)
    row, inst = pair // index.n_instances, pair % index.n_instances
    keep = covered / index.inst_len[inst] > overlap_threshold
    return row[keep], inst[keep], covered[keep].astype(np.int64)


def shared_spans(index: EvalIndex, segments: Sequence[str], instance: int) -> list[str]:
    """The runs of the evaluation instance's tokens covered by n-grams shared with one training prompt."""
    ids, row_of_pos = encode_rows(index, [segments])
    _, pos = covered_positions(index, ids, row_of_pos)
    start = int(index.inst_offset[instance])
    local = pos[index.inst_of_pos[pos] == instance] - start
    tokens = index.instance_tokens(instance)
    spans: list[str] = []
    run: list[str] = []
    for i, p in enumerate(local):
        if i and p != local[i - 1] + 1:
            spans.append(" ".join(run))
            run = []
        run.append(tokens[p])
    if run:
        spans.append(" ".join(run))
    return spans
