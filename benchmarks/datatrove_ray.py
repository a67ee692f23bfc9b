"""Ray check (not in CI): decontamination and synthesis on a local Ray cluster give the embedded path's bytes.

CI does not install Ray (``pip install ray``; a few hundred MB, and a local cluster takes tens of seconds to start on
a 2-core runner), so ``tests/test_pipelines.py`` covers ``LocalPipelineExecutor`` and this script covers
``RayPipelineExecutor``: it starts a local cluster (``ray.init(num_cpus=...)``), runs each stage embedded and with
``executor: ray`` on the same small inputs as the tests, and prints one table row per stage.

    pip install ray && python benchmarks/datatrove_ray.py --tasks 4 --num-cpus 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def decontamination(tmp: Path, ray_args: list[str]) -> tuple[bool, float, float]:
    from test_pipelines import write_decontamination_inputs

    from tulu_recipes.config import run_cli
    from tulu_recipes.stages.decontaminate import main

    mix, bench = write_decontamination_inputs(tmp)
    base = ["--train", str(mix), "--eval", f"bench={bench}:question", "--mode", "drop-instances"]
    t_emb = timed(run_cli, main, [*base, "--out-dir", str(tmp / "embedded")])
    t_ray = timed(run_cli, main, [*base, "--out-dir", str(tmp / "ray"), *ray_args])
    names = ["decontamination.json", "decontamination.md", "mix.jsonl"]
    same = all((tmp / "ray" / n).read_bytes() == (tmp / "embedded" / n).read_bytes() for n in names)
    return same, t_emb, t_ray


def synthesis(tmp: Path, ray_args: list[str]) -> tuple[bool, float, float]:
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
            times.append(timed(run_cli, synthesize_main, [str(path), *extra]))
    same = (tmp / "ray.jsonl").read_bytes() == (tmp / "embedded.jsonl").read_bytes()
    rows = len((tmp / "ray.jsonl").read_text().splitlines())
    print(json.dumps({"synthesize_rows": rows}))
    return same, times[0], times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--num-cpus", type=int, default=2)
    opts = ap.parse_args()
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=opts.num_cpus)
    t_start = time.perf_counter() - start
    ray_args = ["--executor", "ray", "--tasks", str(opts.tasks)]
    rows = []
    for name, fn in (("decontaminate", decontamination), ("synthesize", synthesis)):
        with tempfile.TemporaryDirectory() as tmp:
            rows.append((name, *fn(Path(tmp), ray_args)))
    ray.shutdown()
    print(f"\nlocal Ray cluster with {opts.num_cpus} CPUs started in {t_start:.1f}s; {opts.tasks} tasks\n")
    print("| stage | same bytes as embedded | embedded s | ray s |")
    print("| --- | --- | ---: | ---: |")
    for name, same, t_emb, t_ray in rows:
        print(f"| {name} | {'yes' if same else 'NO'} | {t_emb:.1f} | {t_ray:.1f} |")


if __name__ == "__main__":
    main()
