"""Benchmark: decontamination embedded vs as a datatrove pipeline (LocalPipelineExecutor), rows per CPU-second.

A synthetic mixture shaped like the Tülu 3 SFT mixture (its sources in their release proportions, chat rows with a
``source`` column, some multi-turn; prompts from ``benchmarks/decontaminate.py``'s corpus generator, 0.1% of them
evaluation prompts planted) is decontaminated against GSM8K + MATH + IFEval read from ``--data-dir``, four ways:
the embedded stage with 1 and 2 processes, and the datatrove pipeline (4 tasks) with 1 and 2 workers. Each writes
the report (and the kept rows, ``--mode drop-instances``); the reports must be the same bytes.

CPU time counts this process and every process it started, forkserver workers included (this process is made a
child subreaper, and the forkserver is stopped and reaped after each datatrove run). Building the evaluation index
and converting the mixture to Arrow happen once, before the clocks. The machine's load average is printed: on a
shared machine the wall-clock scaling from 1 to 2 workers says more about the neighbours than about datatrove.

    python benchmarks/decontaminate_datatrove.py --rows 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decontaminate import make_corpus  # noqa: E402

from tulu_recipes.data.decontamination import build_index, load_eval_sets  # noqa: E402
from tulu_recipes.pipelines.executors import ExecutorConfig  # noqa: E402
from tulu_recipes.stages.decontaminate import load_train, parse_args, report_and_write  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# allenai/tulu-3-sft-mixture, rows per source (release card; 939,344 rows in all), and whether rows are multi-turn.
TULU3_SFT = {
    "ai2-adapt-dev/tulu_v3.9_persona_math": (149_960, False),
    "ai2-adapt-dev/evol_codealpaca": (107_276, False),
    "ai2-adapt-dev/tulu_v3.9_aya_100k": (100_000, False),
    "ai2-adapt-dev/flan_v2_converted": (89_982, False),
    "ai2-adapt-dev/numinamath_tir_math_decontaminated": (64_312, False),
    "ai2-adapt-dev/tulu_v3.9_wildchat_100k": (100_000, True),
    "ai2-adapt-dev/tulu_v3.9_wildjailbreak_decontaminated_50k": (50_000, False),
    "ai2-adapt-dev/tulu_v3.9_synthetic_finalresp_wildguardmixtrain_decontaminated_50k": (50_000, False),
    "ai2-adapt-dev/tulu_v3.9_persona_gsm": (49_980, False),
    "ai2-adapt-dev/tulu_v3.9_personahub_python": (34_999, False),
    "ai2-adapt-dev/tulu_v3.9_persona_if": (29_980, False),
    "ai2-adapt-dev/tulu_v3.9_persona_algebra": (20_000, False),
    "ai2-adapt-dev/coconot_converted": (10_983, False),
    "ai2-adapt-dev/tulu_v3.9_sciriff_10k": (10_000, False),
    "ai2-adapt-dev/no_robots_converted": (9_500, False),
    "ai2-adapt-dev/oasst1_converted": (7_132, True),
    "ai2-adapt-dev/tulu_v3.9_table_gpt_5k": (5_000, False),
    "ai2-adapt-dev/tulu_hard_coded_repeated_10": (240, False),
}


def write_mixture(evals: dict[str, list[str]], rows: int, path: Path) -> None:
    """Parquet with ``messages`` and ``source``: sources in Tülu 3 proportions, interleaved (seeded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    corpus, _ = make_corpus(evals, rows)
    names = list(TULU3_SFT)
    weights = np.array([TULU3_SFT[n][0] for n in names], dtype=float)
    sources = np.random.default_rng(1).choice(len(names), size=rows, p=weights / weights.sum())
    messages = []
    for text, s in zip(corpus, sources, strict=True):
        if TULU3_SFT[names[s]][1]:  # multi-turn: the prompt split over two user turns
            cut = len(text) // 2
            turns = [("user", text[:cut]), ("assistant", "Sure."), ("user", text[cut:])]
        else:
            turns = [("user", text)]
        messages.append([{"role": r, "content": c} for r, c in turns] + [{"role": "assistant", "content": "Done."}])
    table = pa.table({"messages": messages, "source": [names[s] for s in sources]})
    pq.write_table(table, path)


def _reap_descendants() -> None:
    """Stop multiprocess's forkserver and resource tracker (a datatrove run leaves them up) and reap whatever
    else was orphaned to this process, so all of their CPU time is counted."""
    from multiprocess import forkserver, resource_tracker

    forkserver._forkserver._stop()
    resource_tracker._resource_tracker._stop()
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:  # children left that are still running: none of ours should be
            time.sleep(0.05)
            continue


def cpu_seconds() -> float:
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def run_variant(argv: list[str], index, train, executor: ExecutorConfig | None) -> tuple[float, float, float]:
    """(wall s, CPU s, CPU s inside the scan tasks) of one decontamination; its printout is discarded."""
    args = parse_args(argv)
    task_cpu = 0.0
    wall, cpu = time.perf_counter(), cpu_seconds()
    with contextlib.redirect_stdout(io.StringIO()):
        if executor is None:
            report_and_write(args, index, train)
        else:
            from tulu_recipes.pipelines.decontaminate import run_pipeline

            folder = run_pipeline(args, executor, index, train)
    _reap_descendants()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    if executor is not None:
        for shard in (folder / "pairs").glob("*.npz"):
            with np.load(shard) as f:
                task_cpu += float(f["cpu_seconds"])
    return wall, cpu, task_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--data-dir", default=str(DATA))
    ap.add_argument("--work-dir", default=None, help="default: a temporary folder, removed at the end")
    opts = ap.parse_args()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphaned workers are reaped (and timed) here
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(opts.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        evals = load_eval_sets(local_dir=opts.data_dir)
        index = build_index(evals)
        mix = work / "tulu3_sft_like.parquet"
        t0 = time.perf_counter()
        write_mixture(evals, opts.rows, mix)
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        train = dict([load_train(str(mix), "train")])
        t_arrow = time.perf_counter() - t0
        print(
            f"mixture: {opts.rows} rows, {len(TULU3_SFT)} sources (generated in {t_gen:.0f}s, to Arrow in "
            f"{t_arrow:.0f}s); eval: {', '.join(f'{n} {index.set_size(n)}' for n in index.set_names)}",
            flush=True,
        )
        base = ["--train", str(mix), "--eval-dir", opts.data_dir, "--mode", "drop-instances"]
        variants = [
            ("embedded, 1 process", ["--num-proc", "1"], None),
            ("embedded, 2 processes", ["--num-proc", "2"], None),
            (f"datatrove, {opts.tasks} tasks, 1 worker", [], 1),
            (f"datatrove, {opts.tasks} tasks, 2 workers", [], 2),
        ]
        results = []
        for name, extra, workers in variants:
            out = work / name.replace(" ", "").replace(",", "_")
            executor = None if workers is None else ExecutorConfig(executor="local", tasks=opts.tasks, workers=workers)
            wall, cpu, task_cpu = run_variant([*base, *extra, "--out-dir", str(out)], index, train, executor)
            report = (out / "decontamination.json").read_bytes()
            results.append((name, wall, cpu, task_cpu, report))
            print(f"  {name}: {wall:.1f}s wall, {cpu:.1f} CPU-s", flush=True)
    load_after = os.getloadavg()
    base_rate = opts.rows / results[0][2]
    print(f"\n{opts.rows} rows on {os.cpu_count()} CPUs; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after (the machine is shared: wall-clock numbers are noisy)\n")  # fmt: skip
    print("| run | wall s | CPU s | rows / CPU-s | vs embedded | rows / wall-s | CPU s in scan tasks |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, wall, cpu, task_cpu, _ in results:
        rate = opts.rows / cpu
        tasks = f"{task_cpu:.1f}" if task_cpu else "-"
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {rate:,.0f} | {rate / base_rate:.2f}x | {opts.rows / wall:,.0f} "
              f"| {tasks} |")  # fmt: skip
    one, two = results[2][1], results[3][1]
    print(f"\ndatatrove 1 -> 2 workers: {one / two:.2f}x wall-clock speed-up")
    same = len({r[4] for r in results}) == 1
    print(f"reports identical across the four runs: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
