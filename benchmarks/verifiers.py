"""Verifier speed: our MATH verifier against math-verify on MATH-500 (gold vs gold, gold vs perturbed).

Run: ``python benchmarks/verifiers.py [--data ../shared/data]``. Each of the 500 problems gives two
items: its reference solution against the gold ``answer`` (should pass) and ``\\boxed{gold with its last
number + 1}`` (should fail; golds without a digit are skipped). Both verifiers see the same items in
one run; latencies are per item, single caller. math-verify runs with its signal timeouts disabled
(``parsing_timeout=None, timeout_seconds=None``) so it pays no SIGALRM cost. Targets: at least 10x
math-verify's throughput and p99 under 20 ms. If ``benchmarks/verifiers_ifeval.py`` defines
``rows() -> list[dict]``, its rows are appended to the table.

Realistic set (``benchmarks/realistic_completions.py``): hand-written model-style completions (Llama, Qwen,
Minerva, Tülu 8-shot, ``####``), right and wrong, about a third of the right MATH answers in another symbolic
form, plus every extraction failure class of issue 14, each with a careful grader's label. Both verifiers
judge the same items in the same run; the table gives throughput, p50/p99 latency and agreement with the hand
labels, and the agreement of ours with math-verify. Targets there: >= 3x math-verify's throughput, p99 < 20 ms,
ours 100% on the labels with zero false positives, never below math-verify. The round-3 tables
(``benchmarks/round3_completions.py``) hold the answer shapes of issue 24 and other shapes of the same classes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def _perturb(gold: str) -> str | None:
    matches = list(re.finditer(r"\d+", gold))
    if not matches:
        return None
    last = matches[-1]
    return gold[: last.start()] + str(int(last.group()) + 1) + gold[last.end() :]


def load_items(data: Path) -> list[tuple[str, str, bool]]:
    """``(completion, gold, expected)`` for MATH-500."""
    with open(data / "math_test.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    items = [(row["solution"], row["answer"], True) for row in rows]
    items += [(f"\\boxed{{{p}}}", row["answer"], False) for row in rows if (p := _perturb(row["answer"]))]
    return items


def _timed(fn, items) -> tuple[list[bool], list[float], float]:
    verdicts, latencies = [], []
    start = time.perf_counter()
    for completion, gold, _ in items:
        t0 = time.perf_counter()
        verdicts.append(bool(fn(completion, gold)))
        latencies.append(time.perf_counter() - t0)
    return verdicts, latencies, time.perf_counter() - start


def _labelled_row(name: str, verdicts, latencies, total, labels, other) -> dict:
    ordered = sorted(latencies)
    return {
        "verifier": name,
        "items": len(verdicts),
        "per_s": len(verdicts) / total,
        "p50_ms": 1e3 * statistics.median(ordered),
        "p99_ms": 1e3 * ordered[int(0.99 * (len(ordered) - 1))],
        "max_ms": 1e3 * ordered[-1],
        "labels": sum(v == b for v, b in zip(verdicts, labels, strict=True)) / len(verdicts),
        "false_pos": sum(v and not b for v, b in zip(verdicts, labels, strict=True)),
        "vs_other": sum(v == b for v, b in zip(verdicts, other, strict=True)) / len(verdicts),
    }


def realistic(math_verify_one) -> None:
    """The realistic-set table (see the module docstring)."""
    from realistic_completions import gsm8k_items, math_items
    from round3_completions import ROUND3_GSM8K, ROUND3_MATH

    from rewards import gsm8k, math_flex

    everything = math_items()
    bounded = [item for item in everything if item[3].startswith("bounded/")]
    for title, items, ours_fn in (
        ("MATH realistic", [i for i in everything if i not in bounded], math_flex.verify),
        ("GSM8K realistic", gsm8k_items(), gsm8k.verify),
        ("MATH round 3 shapes", ROUND3_MATH, math_flex.verify),
        ("GSM8K round 3 shapes", ROUND3_GSM8K, gsm8k.verify),
    ):
        labels = [label for _, _, label, _ in items]
        runs = [(item[0], item[1], item[2]) for item in items]
        ours = _timed(ours_fn, runs)
        theirs = _timed(math_verify_one, runs)
        rows = [
            _labelled_row("ours", *ours, labels=labels, other=theirs[0]),
            _labelled_row("math-verify 0.9", *theirs, labels=labels, other=ours[0]),
        ]
        symbolic = sum(k.endswith("symbolic") for *_, k in items)
        pending = sum(math_flex.prepare(c, g)[0] is None for c, g, *_ in items) if title.startswith("MATH") else 0
        print(
            f"\n{title}: {len(items)} items ({sum(labels)} right, {len(items) - sum(labels)} wrong; {symbolic} right "
            f"answers in another symbolic form; {pending} reach our symbolic worker)"
        )
        print(
            f"{'verifier':18} {'items':>6} {'per_s':>9} {'p50_ms':>8} {'p99_ms':>8} {'max_ms':>9} {'labels':>7} "
            f"{'false+':>6} {'agree':>6}"
        )
        for row in rows:
            print(
                f"{row['verifier']:18} {row['items']:6d} {row['per_s']:9.1f} {row['p50_ms']:8.3f} {row['p99_ms']:8.3f} "
                f"{row['max_ms']:9.1f} {row['labels']:7.3f} {row['false_pos']:6d} {row['vs_other']:6.3f}"
            )
        print(
            f"speed-up {rows[0]['per_s'] / rows[1]['per_s']:.1f}x (target >= 3x); ours p99 {rows[0]['p99_ms']:.2f} ms "
            f"(target < 20 ms)"
        )
        for (c, g, label, kind), verdict in zip(items, theirs[0], strict=True):
            if verdict != label:
                print(f"  math-verify {'false positive' if verdict else 'misses'} [{kind}]: {c[-70:]!r} vs {g!r}")
        for (c, g, label, kind), verdict in zip(items, ours[0], strict=True):
            if verdict != label:
                print(f"  ours {'false positive' if verdict else 'misses'} [{kind}]: {c[-70:]!r} vs {g!r}")
    # shapes that hang an unbounded parser (math-verify without its SIGALRM limits would not return): ours only
    verdicts, latencies, _ = _timed(math_flex.verify, [(c, g, label) for c, g, label, _ in bounded])
    print(
        f"\nbounded shapes (ours only): {len(bounded)} items, all scored 0: {not any(verdicts)}, "
        f"slowest {1e3 * max(latencies):.1f} ms"
    )


def _row(name: str, verdicts, latencies, total, reference) -> dict:
    ordered = sorted(latencies)
    agreement = sum(a == b for a, b in zip(verdicts, reference, strict=True)) / len(verdicts)
    return {
        "verifier": name,
        "items": len(verdicts),
        "per_s": len(verdicts) / total,
        "p50_ms": 1e3 * statistics.median(ordered),
        "p99_ms": 1e3 * ordered[int(0.99 * (len(ordered) - 1))],
        "max_ms": 1e3 * ordered[-1],
        "agreement": agreement,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--realistic-only", action="store_true", help="only the realistic-set tables")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from math_verify import parse, verify

    from rewards import load_reward, math_flex

    items = load_items(args.data)
    expected = [e for _, _, e in items]

    def math_verify_one(completion: str, gold: str) -> bool:
        gold_parsed = parse(f"${gold}$", parsing_timeout=None)
        return verify(gold_parsed, parse(completion, parsing_timeout=None), timeout_seconds=None)

    math_flex.verify("\\boxed{\\frac{\\sqrt2}{2}}", "\\frac{1}{\\sqrt2}")  # start the worker pool first
    math_verify_one("\\boxed{1}", "1")
    realistic(math_verify_one)
    if args.realistic_only:
        return
    ours = _timed(math_flex.verify, items)
    theirs = _timed(math_verify_one, items)
    rows = [_row("math_flex (ours)", *ours, reference=theirs[0]), _row("math-verify 0.9", *theirs, reference=theirs[0])]

    reward = load_reward("math")
    start = time.perf_counter()
    batch = reward(None, [c for c, _, _ in items], ground_truth=[g for _, g, _ in items])
    total = time.perf_counter() - start
    rows.append(
        {
            "verifier": "math via load_reward (one batch)",
            "items": len(items),
            "per_s": len(items) / total,
            "p50_ms": float("nan"),
            "p99_ms": float("nan"),
            "max_ms": 1e3 * total,
            "agreement": sum((s > 0) == b for s, b in zip(batch, theirs[0], strict=True)) / len(items),
        }
    )

    extra = ROOT / "benchmarks" / "verifiers_ifeval.py"
    if extra.exists():
        spec = importlib.util.spec_from_file_location("verifiers_ifeval", extra)
        if spec and spec.loader:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            rows += list(module.rows())

    print(f"MATH-500: {len(items)} items ({sum(expected)} gold vs gold, {len(items) - sum(expected)} perturbed)")
    print(f"{'verifier':36} {'items':>6} {'per_s':>9} {'p50_ms':>8} {'p99_ms':>8} {'max_ms':>9} {'agree':>7}")
    for row in rows:
        print(
            f"{row['verifier']:36} {row['items']:6d} {row['per_s']:9.1f} {row['p50_ms']:8.3f} "
            f"{row['p99_ms']:8.3f} {row['max_ms']:9.1f} {row['agreement']:7.3f}"
        )
    for name, (verdicts, _, _) in (("ours", ours), ("math-verify", theirs)):
        correct = sum(v == e for v, e in zip(verdicts, expected, strict=True))
        print(f"{name}: {correct}/{len(items)} verdicts match the expected label")
    speedup = rows[0]["per_s"] / rows[1]["per_s"]
    print(f"speed-up {speedup:.1f}x (target >= 10x); ours p99 {rows[0]['p99_ms']:.2f} ms (target < 20 ms)")


if __name__ == "__main__":
    main()
