"""Paired percentile bootstrap over prompts for the evaluation metrics.

Every metric the evaluate stage reports is a mean, over one or more parts, of a ratio of sums over prompts:
accuracy is sum(correct) / sum(1); IFEval's instruction level is sum(instructions passed) / sum(instructions),
so resampling prompts keeps each prompt's instructions together (a cluster bootstrap, not a resample of
instructions); MATH's macro average is the mean over subjects of each subject's accuracy. A resample draws prompt
indices with replacement and is kept as a count per prompt, so each metric of each model on a resample is one
matrix product with the same counts: the intervals of a change are paired because both models are scored on the
very same resampled prompts. The counts depend only on (seed, task name, number of prompts).

Written here rather than with `scipy.stats.bootstrap`: that draws its own indices on every call, so the scores of
several models, several metrics and several tasks (the stratified average) cannot share one set of resamples, and
it has no cluster-ratio statistic.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

CHUNK = 1000  # resamples per matrix product: bounds memory at CHUNK x prompts counts


@dataclass
class Parts:
    """A metric as `mean over columns g with sum(den[:, g]) > 0 of sum(num[:, g]) / sum(den[:, g])`.

    `num` and `den` have one row per prompt; one column for a plain or cluster ratio, one per group for a macro
    average."""

    num: np.ndarray
    den: np.ndarray

    def __post_init__(self) -> None:
        self.num = np.asarray(self.num, dtype=float).reshape(len(self.num), -1)
        self.den = np.asarray(self.den, dtype=float).reshape(len(self.den), -1)
        if self.num.shape != self.den.shape:
            raise ValueError(f"numerator {self.num.shape} and denominator {self.den.shape} differ in shape")

    def full(self) -> float:
        """The metric on the prompts as they are (NaN where no column has a prompt)."""
        return float(self.value(np.ones((1, len(self.num))))[0])

    def value(self, counts: np.ndarray) -> np.ndarray:
        """The metric on each resample (`counts`: resamples x prompts)."""
        num, den = counts @ self.num, counts @ self.den
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        present = (den > 0).sum(axis=1)
        return np.where(present > 0, np.nansum(ratio, axis=1) / np.maximum(present, 1), np.nan)


def check_prompts(task: str, n: int) -> None:
    """A ValueError unless the task has the 2 prompts a bootstrap interval needs."""
    if n < 2:
        raise ValueError(
            f"task {task!r} has {n} prompt{'s' * (n != 1)}: a bootstrap confidence interval needs at least 2"
        )


def resample_counts(task: str, n: int, resamples: int, seed: int):
    """Yield blocks of resample counts (rows: resamples, columns: how often each prompt was drawn)."""
    check_prompts(task, n)
    rng = np.random.default_rng([seed, zlib.crc32(task.encode("utf-8"))])
    done = 0
    while done < resamples:
        rows = min(CHUNK, resamples - done)
        idx = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
        yield np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n).astype(float)
        done += rows


def bootstrap_values(
    task: str, parts: dict[str, dict[str, Parts]], resamples: int, seed: int
) -> dict[str, dict[str, np.ndarray]]:
    """`parts[model][metric]` -> the metric on every resample, `{model: {metric: array(resamples)}}`; every model
    and metric of the task sees the same resamples."""
    sizes = {len(p.num) for metrics in parts.values() for p in metrics.values()}
    if len(sizes) != 1:
        raise ValueError(f"task {task!r}: the models were scored on different numbers of prompts {sorted(sizes)}")
    blocks: dict[str, dict[str, list[np.ndarray]]] = {m: {k: [] for k in ms} for m, ms in parts.items()}
    for counts in resample_counts(task, sizes.pop(), resamples, seed):
        for model, metrics in parts.items():
            for metric, p in metrics.items():
                blocks[model][metric].append(p.value(counts))
    return {m: {k: np.concatenate(v) for k, v in ms.items()} for m, ms in blocks.items()}


def percentile_interval(values: np.ndarray, level: float = 0.95) -> list[float] | None:
    """The percentile interval: the (1 - level) / 2 and (1 + level) / 2 quantiles of the resampled values, each an
    actual resample value (inverted CDF); resamples where the metric is undefined are skipped."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    # rounded: (1 - 0.95) / 2 is 0.025000000000000022 in floating point, one order statistic too high
    tails = [round((1 - level) / 2, 12), round((1 + level) / 2, 12)]
    lo, hi = np.quantile(values, tails, method="inverted_cdf")
    return [float(lo), float(hi)]
