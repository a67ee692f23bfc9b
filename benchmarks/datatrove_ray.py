"""Ray check (not in CI): decontamination and synthesis on a local Ray cluster give the embedded path's bytes.

CI does not install Ray. On the shared 2-core machine `pip install "ray==2.60.0"` took 109 s, and this script
51 s when the machine was quiet but 7.6 minutes or more while trainings shared the cores: each datatrove task is a new
Ray actor process that imports the stage again (``benchmarks/datatrove_ray.txt`` and the README's Ray section).
So ``tests/test_pipelines.py`` covers ``LocalPipelineExecutor`` and this script covers ``RayPipelineExecutor``: it
starts a local cluster (``ray.init(num_cpus=..., include_dashboard=False)``), runs each stage embedded and with
``executor: ray`` on the same small inputs as the tests, and prints one table row per stage: same bytes or not, wall
seconds, and the CPU seconds of this process and every Ray process it started (less load-dependent than wall time:
an idle machine needs at least CPU / cores).

    pip install "ray==2.60.0" && python benchmarks/datatrove_ray.py --tasks 4 --num-cpus 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


class CpuMeter:
    """CPU seconds of this process and every process under it (Ray's daemons and its short-lived task workers,
    which the raylet reaps without adding them to its own counters), sampled every ``period`` seconds: the CPU of
    a worker in its last interval before it exits is missed."""

    def __init__(self, period: float = 0.2) -> None:
        self.seen: dict[int, float] = {}
        self.lock = threading.Lock()
        self.period = period
        threading.Thread(target=self._loop, daemon=True).start()

    def sample(self) -> dict[int, float]:
        me = psutil.Process()
        for proc in [me, *me.children(recursive=True)]:
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            with self.lock:
                self.seen[proc.pid] = t.user + t.system
        with self.lock:
            return dict(self.seen)

    def _loop(self) -> None:
        while True:
            self.sample()
            time.sleep(self.period)


METER: CpuMeter | None = None


def measured(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all processes) of ``fn()``."""
    assert METER is not None
    wall, before = time.perf_counter(), METER.sample()
    fn()
    after = METER.sample()
    return time.perf_counter() - wall, sum(v - before.get(pid, 0.0) for pid, v in after.items())


def decontamination(tmp: Path, ray_args: list[str]) -> tuple[bool, tuple, tuple]:
    from test_pipelines import write_decontamination_inputs

    from tulu_recipes.config import run_cli
    from tulu_recipes.stages.decontaminate import main

    mix, bench = write_decontamination_inputs(tmp)
    base = ["--train", str(mix), "--eval", f"bench={bench}:question", "--mode", "drop-instances"]
    emb = measured(lambda: run_cli(main, [*base, "--out-dir", str(tmp / "embedded")]))
    ray = measured(lambda: run_cli(main, [*base, "--out-dir", str(tmp / "ray"), *ray_args]))
    names = ["decontamination.json", "decontamination.md", "mix.jsonl"]
    same = all((tmp / "ray" / n).read_bytes() == (tmp / "embedded" / n).read_bytes() for n in names)
    return same, emb, ray


def synthesis(tmp: Path, ray_args: list[str]) -> tuple[bool, tuple, tuple]:
    from openai_server import ChatServer
    from test_pipelines import synth_responder

    from tulu_recipes.config import run_cli
    from tulu_recipes.pipelines.cli import synthesize_main

    personas = tmp / "personas.txt"
    personas.write_text("\n".join(f"persona {i}" for i in range(12)))
    with ChatServer(synth_responder()) as server:
        recipe = {"personas": str(personas), "skills": ["if", "math"], "verified_only": False, "progress": False,
                  "prompt_model": {"name": "stub", "base_url": server.base_url}}  # fmt: skip
        times = []
        for name, extra in (("embedded", []), ("ray", ray_args)):
            path = tmp / f"{name}.yaml"
            path.write_text(yaml.safe_dump({**recipe, "output_path": str(tmp / f"{name}.jsonl")}))
            times.append(measured(lambda path=path, extra=extra: run_cli(synthesize_main, [str(path), *extra])))
    same = (tmp / "ray.jsonl").read_bytes() == (tmp / "embedded.jsonl").read_bytes()
    rows = len((tmp / "ray.jsonl").read_text().splitlines())
    print(json.dumps({"synthesize_rows": rows}), flush=True)
    return same, times[0], times[1]


STAGES = {"decontaminate": decontamination, "synthesize": synthesis}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    opts = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    global METER
    METER = CpuMeter()
    t_import = measured(lambda: __import__("ray"))[0]
    import ray

    t_start, c_start = measured(lambda: ray.init(num_cpus=opts.num_cpus, include_dashboard=False))
    print(f"ray {ray.__version__}: import {t_import:.1f}s, ray.init {t_start:.1f}s ({c_start:.1f} CPU s)", flush=True)
    ray_args = ["--executor", "ray", "--tasks", str(opts.tasks)]
    rows = []
    try:
        for name in opts.stages:
            with tempfile.TemporaryDirectory() as tmp:
                same, emb, on_ray = STAGES[name](Path(tmp), ray_args)
            rows.append((name, same, emb, on_ray))
            print(f"ROW {name}: same={same} embedded={emb[0]:.1f}s ray={on_ray[0]:.1f}s ({on_ray[1]:.1f} CPU s)",
                  flush=True)  # fmt: skip
    finally:
        stop = time.perf_counter()
        ray.shutdown()
        t_stop = time.perf_counter() - stop
    load = os.getloadavg()[0]
    print(
        f"\nRay {ray.__version__}, local cluster of {opts.num_cpus} CPUs: import {t_import:.1f}s, ray.init "
        f"{t_start:.1f}s ({c_start:.1f} CPU s), ray.shutdown {t_stop:.1f}s; {opts.tasks} tasks; {os.cpu_count()} "
        f"cores, load average {load:.1f} at the end\n"
    )
    print("| stage | same bytes as embedded | embedded s | ray s | ray CPU s (all processes) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, same, emb, on_ray in rows:
        print(f"| {name} | {'yes' if same else 'NO'} | {emb[0]:.1f} | {on_ray[0]:.1f} | {on_ray[1]:.1f} |")


if __name__ == "__main__":
    main()
