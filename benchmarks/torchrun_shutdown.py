"""Clean exits of `torchrun --nproc_per_node 2` runs: N consecutive 1-step SFT runs of the tiny model, each on
2 CPU processes (gloo), with the exit code and any abort line counted.

    python benchmarks/torchrun_shutdown.py [--runs 30] [--deepspeed accelerate_configs/ds_zero3.json]

Before the process group was destroyed at exit (`tulu_recipes.distributed`), 3 of 13 runs ended with exit 1 and
`terminate called without an active exception` after the model was saved. Prints one row per outcome; a run
counts as clean when it exits 0, prints no abort line and leaves `model.safetensors`. Not a test: 30 runs take
10-30 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ABORTS = ("terminate called", "Aborted", "core dumped", "SIGABRT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(work: Path, index: int, deepspeed: str | None) -> tuple[str, float]:
    out = work / f"run-{index}"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "tulu_recipes.stages.sft", str(ROOT / "recipes" / "quickstart" / "sft.yaml"), "--max_steps", "1",
           "--per_device_train_batch_size", "4", "--output_dir", str(out), "--save_strategy", "no",
           "--disable_tqdm", "true", "--overwrite_output_dir", "true"]  # fmt: skip
    if deepspeed:
        cmd += ["--deepspeed", deepspeed]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    text = proc.stdout + proc.stderr
    if proc.returncode == 0 and not any(a in text for a in ABORTS) and (out / "model.safetensors").is_file():
        return "clean (exit 0, weights saved)", seconds
    abort = next((line.strip() for line in text.splitlines() if any(a in line for a in ABORTS)), "")
    return f"exit {proc.returncode}: {abort or text.strip().splitlines()[-1][:100]}", seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--deepspeed", default=None, help="a DeepSpeed JSON to run every launch under")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    outcomes: Counter = Counter()
    times = []
    with tempfile.TemporaryDirectory() as work:
        for i in range(args.runs):
            outcome, seconds = one_run(Path(work), i, args.deepspeed)
            outcomes[outcome] += 1
            times.append(seconds)
            print(f"run {i + 1:2d}/{args.runs}: {outcome} ({seconds:.0f} s)", flush=True)
    print(f"load average at end: {os.getloadavg()}")
    print("\n| outcome | runs |\n|---|---:|")
    for outcome, n in outcomes.most_common():
        print(f"| {outcome} | {n} |")
    print(f"\nmedian run {sorted(times)[len(times) // 2]:.0f} s")
    sys.exit(0 if set(outcomes) == {"clean (exit 0, weights saved)"} else 1)


if __name__ == "__main__":
    main()
