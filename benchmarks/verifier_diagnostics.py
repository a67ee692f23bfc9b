"""Cost of the RLVR verifier diagnostics next to the verifier scoring they follow, per batch.

Run: ``python benchmarks/verifier_diagnostics.py [--rows 512] [--repeats 5]``. A batch is built by cycling the
hand-labelled realistic completions of ``benchmarks/realistic_completions.py`` (GSM8K and MATH, Llama, Qwen,
Minerva, Tülu 8-shot and ``####`` styles, right and wrong, every hedging class), routed by ``dataset`` as in
training. Timed, single caller, best of ``--repeats`` after one warm-up pass: the ``verifiable`` reward on the
batch (what TRL calls every step) and the diagnostics hook's work on it (:func:`rewards.diagnose.classify` with
the scores already known, only rejected rows re-read), for the batch as labelled and for an all-wrong batch
(an untrained policy, the worst case). Also the full ``observe`` hook including the sample file (32 rows), and
``classify`` on the adversarial completions of ``benchmarks/fuzz_verifiers.py`` (``--fuzz`` items, as MATH and as
GSM8K rows): exceptions (target 0) and the slowest item, since the extraction runs in-process like the verifiers'.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fuzz_verifiers import completions as fuzz_completions  # noqa: E402
from realistic_completions import gsm8k_items, math_items  # noqa: E402

from rewards import load_reward  # noqa: E402
from rewards.diagnose import classify  # noqa: E402
from tulu_recipes.trainers import verifier_diagnostics  # noqa: E402


def batch(rows: int, wrong: bool) -> tuple[list[str], list[str], list[str]]:
    items = [(c, g, "math") for c, g, _, _ in math_items()] + [(c, g, "gsm8k") for c, g, _, _ in gsm8k_items()]
    if wrong:  # every gold replaced by one no completion matches
        items = [(c, "987654321", d) for c, _, d in items]
    chosen = [items[(i * 7) % len(items)] for i in range(rows)]
    return [c for c, _, _ in chosen], [g for _, g, _ in chosen], [d for _, _, d in chosen]


def best(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(reward, completions: list[str], truths: list[str], datasets: list[str], repeats: int) -> tuple:
    """Best seconds of: scoring the batch, classifying it, the whole hook with a 32-row sample file."""
    scores = reward(completions=completions, ground_truth=truths, dataset=datasets)

    def score() -> None:
        reward(completions=completions, ground_truth=truths, dataset=datasets)

    def diagnostics() -> None:
        for c, t, d, s in zip(completions, truths, datasets, scores, strict=True):
            classify(c, t, d, s > 0, want_answer=False)

    with tempfile.TemporaryDirectory() as out:
        trainer = SimpleNamespace(
            args=SimpleNamespace(
                output_dir=out, verifier_diagnostics=True, verifier_sample_steps=1, verifier_sample_size=32
            ),  # fmt: skip
            state=SimpleNamespace(global_step=0),
            accelerator=SimpleNamespace(process_index=0, is_main_process=True),
            model=SimpleNamespace(training=True),
            reward_funcs=[reward],
            eos_token_ids=[0],
            _metrics={"train": defaultdict(list)},
        )
        rewards = torch.tensor([[s] for s in scores])
        inputs = [{"ground_truth": t, "dataset": d} for t, d in zip(truths, datasets, strict=True)]
        ids = [[1, 0]] * len(completions)

        def hook() -> None:
            trainer._verifier_next_sample = 0
            verifier_diagnostics.observe(trainer, inputs, ["q"] * len(completions), completions, ids, rewards)

        return best(score, repeats), best(diagnostics, repeats), best(hook, repeats)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fuzz", type=int, default=4000)
    args = parser.parse_args()
    reward = load_reward("verifiable")
    print(f"| batch ({args.rows} rows) | scoring ms | diagnostics ms | diagnostics / scoring | hook + sample file ms |")
    print("|---|---|---|---|---|")
    for name, wrong in (("realistic labels", False), ("all wrong", True)):
        t_score, t_diag, t_hook = measure(reward, *batch(args.rows, wrong), args.repeats)
        print(f"| {name} | {1000 * t_score:.1f} | {1000 * t_diag:.1f} | {t_diag / t_score:.2f} | {1000 * t_hook:.1f} |")

    errors, slowest = 0, 0.0
    for _, text in fuzz_completions(args.fuzz, 1):
        for verifier, gold in (("math", "\\frac{1}{2}"), ("gsm8k", "5")):
            start = time.perf_counter()
            try:
                classify(text, gold, verifier, False)
            except Exception:  # noqa: BLE001 - counted: the target is none
                errors += 1
            slowest = max(slowest, time.perf_counter() - start)
    print(f"\nadversarial: {2 * args.fuzz} classifications, {errors} exceptions, slowest {1000 * slowest:.1f} ms")


if __name__ == "__main__":
    main()
