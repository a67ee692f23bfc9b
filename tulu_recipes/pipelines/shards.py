"""The row range of one task: ``world_size`` contiguous ranges whose sizes differ by at most one row.

Contiguous (not strided, as ``datasets.Dataset.shard`` defaults to) so a task's local row ``i`` is global row
``lo + i`` and shard files concatenate in rank order to the input order.
"""

from __future__ import annotations


def row_range(n_rows: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(lo, hi)`` of task ``rank``; the first ``n_rows % world_size`` tasks get one row more."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside 0..{world_size - 1}")
    size, extra = divmod(n_rows, world_size)
    lo = rank * size + min(rank, extra)
    return lo, lo + size + (rank < extra)
