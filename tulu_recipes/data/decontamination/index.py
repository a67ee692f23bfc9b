"""The evaluation-side n-gram index: hashed n-grams of every evaluation instance with their positions.

Hashing: each distinct evaluation token gets ``xxh64(token, seed=0)`` (a deterministic 64-bit value, the same
in every process and on every machine) and a k-gram's key is the polynomial ``sum_j h(tok_j) * M**(k-1-j) mod
2**64`` (Horner's rule with an odd constant ``M``), computed with wrapping ``uint64`` numpy arithmetic. Every
key lookup is verified token by token afterwards, so a 64-bit collision can never create a false match.

Only tokens that occur in the evaluation sets are given an id; every other training token maps to ``-1`` and
no n-gram containing it can match. Memory is therefore bounded by the evaluation sets: the index stores, per
k-gram key, the global positions of its occurrences in the concatenated evaluation token array.

Short instances: an evaluation instance with ``0 < k < n`` tokens is indexed as one k-gram (the whole
instance); it matches only a training prompt that contains all its tokens contiguously, and is then fully
covered. An instance with no token at all can never overlap (it still counts in its evaluation set's size).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xxhash

from tulu_recipes.data.decontamination.text import ROW_TOKEN, tokenize

MULT = np.uint64(0x9E3779B97F4A7C15)
ROW_MARK = -2  # id of the row separator in an encoded training batch (segment separators and unknowns are -1)


def token_hash(token: str) -> int:
    """Deterministic 64-bit hash of one token."""
    return xxhash.xxh64_intdigest(token.encode("utf-8"), seed=0)


def kgram_keys(hashes: np.ndarray, lengths: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(k, keys)`` for each requested ``k``, increasing; ``keys[i]`` is the key of the k-gram at i."""
    wanted = sorted(set(lengths))
    if not wanted:
        return
    acc = hashes.astype(np.uint64, copy=True)
    k = 1
    with np.errstate(over="ignore"):
        for target in wanted:
            while k < target:
                if acc.size <= 1:
                    return
                acc = acc[:-1] * MULT + hashes[k:]
                k += 1
            yield k, acc


def window_ok(ids: np.ndarray, k: int) -> np.ndarray:
    """``ok[i]`` is true when the k tokens starting at i are all known (no ``-1``)."""
    bad = np.concatenate(([0], np.cumsum(ids < 0, dtype=np.int64)))
    return (bad[k:] - bad[:-k]) == 0


@dataclass
class KTable:
    """Sorted unique k-gram keys; occurrences of ``keys[s]`` are ``postings[starts[s]:starts[s+1]]``."""

    keys: np.ndarray  # uint64, sorted, unique
    starts: np.ndarray  # int64, len(keys) + 1
    postings: np.ndarray  # int64 global evaluation positions


@dataclass
class EvalIndex:
    """Hashed n-gram index over named evaluation sets (build it with ``build_index``)."""

    ngram: int
    set_names: list[str]
    set_bounds: np.ndarray  # int64, instance offsets per set (len = sets + 1)
    texts: list[str]  # every evaluation instance, sets concatenated
    vocab: dict[str, int]
    vocab_tokens: list[str]
    token_hashes: np.ndarray  # uint64 per token id, plus a final entry for unknown tokens (id -1)
    flat_ids: np.ndarray  # int32 token ids of all instances, each followed by a -1 separator
    inst_offset: np.ndarray  # int64 start of each instance in flat_ids
    inst_len: np.ndarray  # int64 token count of each instance
    inst_of_pos: np.ndarray  # int32 instance of each flat position (-1 at separators)
    tables: dict[int, KTable]
    bitmap: np.ndarray  # bool prefilter indexed by the top bits of an n-gram key
    bitmap_shift: np.uint64  # 64 - log2(len(bitmap))
    lookup: dict[str, int]  # vocab plus the row marker used by the batch encoder

    @property
    def n_instances(self) -> int:
        return len(self.texts)

    def set_of(self, instance: int) -> int:
        """Index of the evaluation set holding global instance ``instance``."""
        return int(np.searchsorted(self.set_bounds, instance, side="right") - 1)

    def set_size(self, name: str) -> int:
        i = self.set_names.index(name)
        return int(self.set_bounds[i + 1] - self.set_bounds[i])

    def instance_tokens(self, instance: int) -> list[str]:
        start, length = int(self.inst_offset[instance]), int(self.inst_len[instance])
        return [self.vocab_tokens[t] for t in self.flat_ids[start : start + length]]


def _make_table(keys: np.ndarray, positions: np.ndarray) -> KTable:
    order = np.argsort(keys, kind="stable")
    keys, positions = keys[order], positions[order]
    uniq, first = np.unique(keys, return_index=True)
    starts = np.append(first, keys.size).astype(np.int64)
    return KTable(keys=uniq, starts=starts, postings=positions.astype(np.int64))


def build_index(eval_sets: Mapping[str, Sequence[str]], ngram: int = 8) -> EvalIndex:
    """Index ``{set name: instance texts}`` for n-gram matching with ``n = ngram``."""
    if ngram < 1:
        raise ValueError("ngram must be >= 1")
    vocab: dict[str, int] = {}
    names, bounds, texts = [], [0], []
    per_instance: list[list[int]] = []
    for name, instances in eval_sets.items():
        names.append(name)
        for text in instances:
            texts.append(text)
            per_instance.append([vocab.setdefault(t, len(vocab)) for t in tokenize(text)])
        bounds.append(len(texts))
    vocab_tokens = list(vocab)
    hashes = np.array([token_hash(t) for t in vocab_tokens] + [0], dtype=np.uint64)
    lengths = np.array([len(ids) for ids in per_instance], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
    flat = np.full(int(lengths.sum() + lengths.size), -1, dtype=np.int32)
    inst_of_pos = np.full(flat.size, -1, dtype=np.int32)
    for i, ids in enumerate(per_instance):
        flat[offsets[i] : offsets[i] + len(ids)] = ids
        inst_of_pos[offsets[i] : offsets[i] + len(ids)] = i

    short = {int(k) for k in lengths if 0 < k < ngram}
    tables: dict[int, KTable] = {}
    for k, keys in kgram_keys(hashes[flat], short | {ngram}):
        if k == ngram:
            starts = np.flatnonzero(window_ok(flat, k))
        else:  # whole instances of exactly k tokens
            starts = offsets[lengths == k]
        tables[k] = _make_table(keys[starts], starts)
    # Prefilter for n-gram keys: ~16 slots per key (64 KiB to 64 MiB), so ~6% false candidates at most.
    n_keys = tables[ngram].keys.size if ngram in tables else 0
    bits = int(min(26, max(16, np.ceil(np.log2(max(n_keys, 1) * 16)))))
    shift = np.uint64(64 - bits)
    bitmap = np.zeros(1 << bits, dtype=bool)
    if n_keys:
        bitmap[tables[ngram].keys >> shift] = True
    return EvalIndex(
        ngram=ngram,
        set_names=names,
        set_bounds=np.array(bounds, dtype=np.int64),
        texts=texts,
        vocab=vocab,
        vocab_tokens=vocab_tokens,
        token_hashes=hashes,
        flat_ids=flat,
        inst_offset=offsets,
        inst_len=lengths,
        inst_of_pos=inst_of_pos,
        tables=tables,
        bitmap=bitmap,
        bitmap_shift=shift,
        lookup={**vocab, ROW_TOKEN: ROW_MARK},
    )
