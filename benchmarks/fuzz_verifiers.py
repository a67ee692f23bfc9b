"""Fuzz the GSM8K and MATH verifiers with adversarial completions: no exceptions, nothing at the hard limit.

Run: ``python benchmarks/fuzz_verifiers.py [--count 50000] [--seed 0] [--timeout 3.0]``. It generates
``count`` hostile completions (shapes named in issue 14 - factorial chains, factorials and binomials of huge
arguments, deep nesting of every bracket kind, power towers - plus long digit runs, random character soup,
fragments of answer syntax and well-formed random formulas in every answer position), judges each against
a few golds with ``rewards.gsm8k.verify`` and ``rewards.math_flex.verify_batch``, and prints per shape: items,
exceptions raised by the in-process checks, items sent to the symbolic worker, items that reached the hard
limit (the worker was killed), and the slowest in-process time. Targets: 0 exceptions; 0 items at the limit
for the named shapes; the fraction at the limit overall is printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NAMED_SHAPES = ("factorial_chain", "huge_factorial", "huge_binomial", "deep_nesting", "power_tower")
GOLDS = ("\\frac{1}{2}", "5", "x^2+2x+1", "(1,2)", "\\sqrt{3}")


def _formula(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice([str(rng.randint(-99, 999)), rng.choice("xyzabn"), "\\pi", f"{rng.randint(1, 9)}.5", "e"])
    if roll < 0.45:
        return f"\\frac{{{_formula(rng, depth + 1)}}}{{{_formula(rng, depth + 1)}}}"
    if roll < 0.55:
        return f"\\sqrt{{{_formula(rng, depth + 1)}}}"
    if roll < 0.65:
        return f"({_formula(rng, depth + 1)})^{{{rng.randint(0, 12)}}}"
    if roll < 0.7:
        return f"\\binom{{{rng.randint(0, 60)}}}{{{rng.randint(0, 30)}}}"
    if roll < 0.75:
        return f"{rng.randint(0, 30)}!"
    op = rng.choice(["+", "-", "\\cdot", "/"])
    return f"{_formula(rng, depth + 1)} {op} {_formula(rng, depth + 1)}"


def _shape(rng: random.Random, shape: str) -> str:
    n = rng.randint
    if shape == "factorial_chain":
        core = rng.choice([str(n(2, 999)), f"({n(2, 99)})", "n", f"{{{n(2, 99)}}}", f"\\left({n(2, 99)}\\right)"])
        return core + "!" * n(2, 30)
    if shape == "huge_factorial":
        return rng.choice(
            [
                f"(10^{{{n(3, 500)}}})!",
                f"({n(10, 99)}^{{{n(3, 99)}}})!",
                f"{{{n(10, 99)}^{n(2, 9)}}}!",
                f"({n(100, 999)}!)!",
                f"\\left({n(2, 9)}^{{{n(10, 99)}}}\\right)!",
                f"({n(100, 999)}\\cdot{n(100, 999)})!",
                f"\\Gamma({n(10**5, 10**9)})",
                f"{n(10**4, 10**9)}!",
                f"(({n(5, 9)}!)!)!",
            ]
        )
    if shape == "huge_binomial":
        big = rng.choice([f"10^{{{n(3, 99)}}}", str(n(10**5, 10**12)), f"{n(2, 9)}^{{{n(10, 99)}}}", f"{n(100, 999)}!"])
        return rng.choice(
            [
                f"\\binom{{{big}}}{{{n(10**3, 10**6)}}}",
                f"\\dbinom{{{big}}}{{{big}}}",
                f"{{{big} \\choose {n(10**3, 10**6)}}}",
                f"\\tbinom{{{big}}}{{{n(2, 10**5)}}}",
            ]
        )
    if shape == "deep_nesting":
        depth = n(13, 3000)
        opener, closer = rng.choice(
            [
                ("(", ")"),
                ("[", "]"),
                ("{", "}"),
                ("\\left(", "\\right)"),
                ("\\left[", "\\right]"),
                ("\\{", "\\}"),
                ("\\sqrt{", "}"),
                ("\\frac{1}{", "}"),
                ("|", "|"),
            ]
        )
        return opener * depth + str(n(1, 9)) + closer * depth
    if shape == "power_tower":
        return (
            "^".join(str(n(2, 9)) for _ in range(n(3, 8)))
            if rng.random() < 0.5
            else ("{" * 1 + "^{".join(str(n(2, 99)) for _ in range(n(3, 6))) + "}" * n(2, 5))
        )
    if shape == "long_digits":
        return str(n(1, 9)) * n(41, 5000)
    if shape == "soup":
        alphabet = "0123456789+-*/^{}()[]\\$#,. xyzabcfrqtpisnmoe!=_|&\n" + "−½√π∞"
        return "".join(rng.choice(alphabet) for _ in range(n(0, 80)))
    if shape == "fragments":
        pieces = [
            "\\boxed{",
            "\\frac{",
            "\\sqrt{",
            "}",
            "^{",
            "#### ",
            "The answer is ",
            "\\pi",
            "\\left(",
            "\\right)",
            "$",
            " or ",
            "9^",
            "!",
            "1,000",
            "-",
            "\\text{",
            "\\cdot",
            "\\binom{",
            "!!",
            "\\begin{pmatrix}",
            "&",
            "\\\\",
            "\\end{pmatrix}",
            "\\infty",
            "\\cup",
            "\\le",
            "\\pm",
        ]
        return "".join(rng.choice(pieces) + str(n(-99, 99)) for _ in range(n(1, 10)))
    return _formula(rng)  # "formula"


SHAPES = (*NAMED_SHAPES, "long_digits", "soup", "fragments", "formula")
WRAPPERS = (
    "\\boxed{%s}",
    "The answer is $%s$.",
    "Final Answer: The final answer is $%s$. I hope it is correct.",
    "#### %s",
    "%s",
    "## Step 1: work\n\nThe final answer is: $\\boxed{%s}$",
    "**Final Answer**\n\\[ \\boxed{%s} \\]",
)


def completions(count: int, seed: int) -> list[tuple[str, str]]:
    """``(shape, completion)`` pairs, a fixed share per shape."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        shape = SHAPES[i % len(SHAPES)]
        body = _shape(rng, shape)
        if rng.random() < 0.3 and shape in NAMED_SHAPES:
            op = rng.choice(["+", "=", "\\cdot"])
            body = f"{_formula(rng)} {op} {body}"
        out.append((shape, rng.choice(WRAPPERS).replace("%s", body)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()

    from rewards import gsm8k, math_flex
    from rewards.worker_pool import run_limited

    items = completions(args.count, args.seed)
    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    jobs, owners = [], []
    start = time.perf_counter()
    for k, (shape, text) in enumerate(items):
        row = stats[shape]
        row["items"] += 1
        gold = GOLDS[k % len(GOLDS)]
        t0 = time.perf_counter()
        try:
            gsm8k.verify(text, "5")
            decision, answer, gold_norm = math_flex.prepare(text, gold)
        except Exception as err:  # noqa: BLE001 - counted, this is what the fuzz looks for
            row["exceptions"] += 1
            print(f"EXCEPTION {shape}: {type(err).__name__}: {err} on {text[:120]!r}")
            continue
        row["max_ms"] = max(row["max_ms"], 1e3 * (time.perf_counter() - t0))
        if decision is None:
            row["symbolic"] += 1
            jobs.append((answer, gold_norm))
            owners.append((shape, text))
    in_process = time.perf_counter() - start
    limit_hits = []
    for lo in range(0, len(jobs), 500):  # in chunks, with progress on stderr (the symbolic phase is the long one)
        outcomes = run_limited(
            "rewards.symbolic:equivalent", jobs[lo : lo + 500], timeout=args.timeout, default="LIMIT", pool="math"
        )
        for (shape, text), outcome in zip(owners[lo : lo + 500], outcomes, strict=True):
            if outcome == "LIMIT":
                stats[shape]["at_limit"] += 1
                limit_hits.append((shape, text))
        print(
            f"symbolic {min(lo + 500, len(jobs))}/{len(jobs)}, at the limit so far {len(limit_hits)}", file=sys.stderr
        )
    total = time.perf_counter() - start

    print(
        f"{args.count} completions, seed {args.seed}, hard limit {args.timeout} s; in-process {in_process:.1f} s, "
        f"total {total:.1f} s"
    )
    print(f"{'shape':16} {'items':>7} {'exceptions':>10} {'symbolic':>9} {'at_limit':>9} {'max_ms':>8}")
    for shape in SHAPES:
        row = stats[shape]
        print(
            f"{shape:16} {int(row['items']):7d} {int(row['exceptions']):10d} {int(row['symbolic']):9d} "
            f"{int(row['at_limit']):9d} {row['max_ms']:8.1f}"
        )
    named = sum(stats[s]["at_limit"] for s in NAMED_SHAPES)
    hits = sum(row["at_limit"] for row in stats.values())
    errors = sum(row["exceptions"] for row in stats.values())
    print(
        f"exceptions: {int(errors)}; at the hard limit: {int(hits)} of {args.count} ({100 * hits / args.count:.3f}%), "
        f"named shapes: {int(named)}"
    )
    for shape, text in limit_hits[:20]:
        print(f"LIMIT {shape}: {text[:160]!r}")


if __name__ == "__main__":
    main()
