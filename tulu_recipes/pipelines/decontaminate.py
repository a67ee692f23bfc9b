"""Decontamination as a datatrove pipeline: N scan tasks over row ranges, then one merge writing the report.

The driver (``run_pipeline``) builds the evaluation index once and pickles it into the run folder; every task
loads that file (once per worker process) instead of rebuilding it. Task ``r`` scans rows ``row_range(len, r, N)``
of every training input with the project's matcher (``scan_parts``, the embedded path's own code) and saves the
overlapping ``(row, eval instance, covered)`` arrays, rows global, to ``pairs/<r>.npz``. The merge concatenates
them in rank order and hands them to ``report_and_write``, the embedded stage's report and output code, so the
report and the kept rows are the same files as ``executor: embedded`` writes.

Why a task step and not datatrove's readers and ``NGramsDecontFilter``: that filter matches one ``Document`` at a
time on exact n-gram hashes, without the paper's coverage rule (> 50% of an eval instance's tokens inside
n-grams shared with one training instance) or the per-source report; our matcher works on Arrow slices of 4,096
rows at a time, vectorized. A rerun skips tasks with a completion marker; a killed task left no marker and
runs again from the start of its range, overwriting its pairs file, so nothing is counted twice.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.pipeline.base import PipelineStep

from tulu_recipes.data.decontamination import EvalIndex
from tulu_recipes.data.decontamination.scan import RowSource, scan_parts

from .executors import ExecutorConfig, fingerprint, run_dir, run_sharded
from .shards import row_range

_INDEX_CACHE: dict[str, EvalIndex] = {}


def save_index(index: EvalIndex, path: Path) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(index, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def load_index(path: str) -> EvalIndex:
    """The pickled index, loaded once per process (a worker running several tasks reuses it)."""
    if path not in _INDEX_CACHE:
        with open(path, "rb") as f:
            _INDEX_CACHE[path] = pickle.load(f)
    return _INDEX_CACHE[path]


def load_train_specs(args: argparse.Namespace) -> dict[str, Any]:
    from tulu_recipes.stages.decontaminate import load_train

    return dict(load_train(spec, args.split) for spec in args.train)


class ScanRows(PipelineStep):
    """One task: scan its row range of every training input against the shared index."""

    name = "🔎 8-gram scan"
    type = "decontaminate"

    def __init__(self, args: argparse.Namespace, folder: str) -> None:
        super().__init__()
        self.args = args
        self.folder = folder

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1):
        start = time.process_time()
        index = load_index(f"{self.folder}/eval_index.pkl")
        arrays: dict[str, np.ndarray] = {}
        for p, ds in enumerate(load_train_specs(self.args).values()):
            lo, hi = row_range(len(ds), rank, world_size)
            rows = inst = covered = np.zeros(0, dtype=np.int64)
            if hi > lo:  # datasets' select raises on an empty range at the end of a dataset
                part = RowSource(ds.select(range(lo, hi)), self.args.text_field)
                with self.track_time(unit="part"):
                    ((rows, inst, covered),) = scan_parts(
                        index, [part], self.args.overlap_threshold, 1, self.args.batch_size, progress=False
                    )
            arrays.update({f"rows{p}": rows + lo, f"inst{p}": inst, f"covered{p}": covered})
            self.stat_update("rows", value=hi - lo)
            self.stat_update("overlapping_pairs", value=int(rows.size))
        arrays["cpu_seconds"] = np.array(time.process_time() - start)
        target = Path(self.folder) / "pairs" / f"{rank:05d}.npz"
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as f:  # a killed task leaves no completion marker, so this is rewritten
            np.savez(f, **arrays)
        return
        yield


def gather_pairs(folder: Path, n_parts: int, world_size: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every task's pairs per training input, sorted by (row, eval instance) as the embedded scan returns them."""
    shards = []
    for rank in range(world_size):
        path = folder / "pairs" / f"{rank:05d}.npz"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: task {rank} has not finished; run the same command again")
        with np.load(path) as shard:
            shards.append({k: shard[k] for k in shard.files})
    out = []
    for p in range(n_parts):
        rows, inst, covered = (np.concatenate([s[f"{k}{p}"] for s in shards]) for k in ("rows", "inst", "covered"))
        order = np.lexsort((inst, rows))
        out.append((rows[order], inst[order], covered[order]))
    return out


class MergeReport(PipelineStep):
    """The single merge task: all pairs, then the embedded stage's report and output writer."""

    name = "📝 report"
    type = "decontaminate"

    def __init__(self, args: argparse.Namespace, folder: str, world_size: int) -> None:
        super().__init__()
        self.args = args
        self.folder = folder
        self.world_size = world_size

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1):
        from tulu_recipes.stages.decontaminate import report_and_write

        train = load_train_specs(self.args)
        pairs = gather_pairs(Path(self.folder), len(train), self.world_size)
        report_and_write(self.args, load_index(f"{self.folder}/eval_index.pkl"), train, pairs)
        return
        yield


def scan_inputs(args: argparse.Namespace, index: EvalIndex, train: dict[str, Any]) -> dict[str, Any]:
    """What the scan tasks' results depend on (the report-only keys are applied again by every merge)."""
    return {
        "train": {name: getattr(ds, "_fingerprint", None) or len(ds) for name, ds in train.items()},
        "text_field": args.text_field,
        "ngram": index.ngram,
        "overlap_threshold": args.overlap_threshold,
        "eval": fingerprint({"sets": index.set_names, "texts": index.texts}),
    }


def run_pipeline(args: argparse.Namespace, executor: ExecutorConfig, index: EvalIndex, train: dict[str, Any]) -> Path:
    """Index once, scan in ``executor.tasks`` tasks, merge; returns the run folder."""
    folder = run_dir(executor, Path(args.out_dir) / "decontamination", "decontaminate", scan_inputs(args, index, train))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "eval_index.pkl").is_file():
        save_index(index, folder / "eval_index.pkl")
    _INDEX_CACHE[f"{folder}/eval_index.pkl"] = index  # forked local workers share it; others load the file
    done = run_sharded(
        executor,
        folder,
        "decontaminate",
        [ScanRows(args, str(folder))],
        [MergeReport(args, str(folder), executor.tasks)],
    )
    if not done:
        print(f"submitted {executor.tasks} scan tasks and the merge; logs and markers in {folder}", flush=True)
    return folder
