"""`tulu-recipes verifier-audit LABELLED.jsonl --verifier NAME`: how far a verifier agrees with your own labels.

Input: one JSON object a line with ``completion`` (a string or a chat message list), ``ground_truth`` (any JSON
value the verifier reads), ``label`` (``true``: the completion is right) and optionally ``category`` (a string
naming the case, for the per-category table) and ``dataset`` (needed by ``--verifier verifiable``, which routes
on it). Empty lines are skipped. A missing field, a label that is not a JSON boolean, a line that is not a JSON
object, or a ``verifiable`` row without ``dataset`` stops with one line naming the file and line number (exit 2).

The verifier (any name ``load_reward`` takes: ``gsm8k``, ``math``, ``ifeval``, ``verifiable``, a
``package.module:function`` plug-in) scores each row alone, as in training; a positive score accepts the
completion, a None score leaves the row unscored (counted apart, outside the metrics). Printed:

- agreement, false-positive rate (accepted among the rows labelled wrong), false-negative rate (rejected among
  the rows labelled right) and Youden's J = 1 - FPR - FNR, each with a 95% Wilson score interval; J's interval is
  Newcombe's hybrid score interval for the difference of two independent proportions (sensitivity minus FPR),
  built from their two Wilson intervals (Newcombe 1998, method 10);
- the verifier's verdicts split by :func:`rewards.diagnose.classify`: parse failures (no answer extracted) and
  hedges counted apart from wrong answers, and which of them the false negatives were;
- a table per ``category``;
- p50 and p99 latency per row (nearest rank), after a warm-up that starts the verifier's worker pools.

Written by hand because no maintained library audits a reward verifier against labels; the interval formulas are
the textbook ones and take a few lines each.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewards import REGISTRY, load_reward
from rewards.diagnose import Diagnosis, classify, verifier_for
from rewards.worker_pool import DEFAULT_TIMEOUT
from tulu_recipes.config import RecipeError

Z95 = 1.959963984540054
REQUIRED = ("completion", "ground_truth", "label")
# a pair the MATH rules leave to the symbolic check, so the warm-up starts the "math" worker pool
_SYMBOLIC_WARMUP = ("\\boxed{\\log_2 8}", "3")


@dataclass(frozen=True)
class Labelled:
    line: int
    completion: Any
    ground_truth: Any
    label: bool
    category: str
    dataset: str | None


@dataclass(frozen=True)
class Outcome:
    row: Labelled
    verdict: bool | None
    diagnosis: Diagnosis
    seconds: float


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / n``; None when ``n`` is 0."""
    if n <= 0:
        return None
    p = successes / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval for ``k1/n1 - k2/n2`` (independent samples); None if either n is 0."""
    first, second = wilson(k1, n1, z), wilson(k2, n2, z)
    if first is None or second is None:
        return None
    p1, p2 = k1 / n1, k2 / n2
    low = p1 - p2 - math.sqrt((p1 - first[0]) ** 2 + (second[1] - p2) ** 2)
    high = p1 - p2 + math.sqrt((first[1] - p1) ** 2 + (p2 - second[0]) ** 2)
    return max(-1.0, low), min(1.0, high)


def nearest_rank(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def read_labelled(path: str | Path, verifier: str = "") -> list[Labelled]:
    """The rows of a labelled file; a bad line raises RecipeError naming it (rules in the module docstring)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(f"{path}: cannot read it ({err})") from None
    rows: list[Labelled] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise RecipeError(f"{where}: not valid JSON ({err.msg})") from None
        if not isinstance(obj, dict):
            raise RecipeError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        missing = [key for key in REQUIRED if key not in obj]
        if missing:
            raise RecipeError(f"{where}: missing field {missing[0]!r}")
        if not isinstance(obj["label"], bool):
            raise RecipeError(f"{where}: 'label' must be true or false, got {json.dumps(obj['label'])}")
        if not isinstance(obj["completion"], (str, list)):
            raise RecipeError(f"{where}: 'completion' must be a string or a list of chat messages")
        category = obj.get("category", "-")
        if not isinstance(category, str):
            raise RecipeError(f"{where}: 'category' must be a string, got {json.dumps(category)}")
        dataset = obj.get("dataset")
        if verifier.lower() == "verifiable" and not isinstance(dataset, str):
            raise RecipeError(f"{where}: --verifier verifiable routes on a 'dataset' field, which this row lacks")
        rows.append(Labelled(number, obj["completion"], obj["ground_truth"], obj["label"], category or "-", dataset))
    if not rows:
        raise RecipeError(f"{path}: no labelled rows")
    return rows


def _score(reward: Any, row: Labelled) -> bool | None:
    columns: dict[str, list] = {"ground_truth": [row.ground_truth]}
    if row.dataset is not None:
        columns["dataset"] = [row.dataset]
    score = reward(prompts=None, completions=[row.completion], **columns)[0]
    return None if score is None else score > 0


def audit(rows: Sequence[Labelled], verifier: str, timeout: float = DEFAULT_TIMEOUT) -> list[Outcome]:
    """Score and classify every row alone, timing each call, after a warm-up of the verifier's pools."""
    reward = load_reward(verifier, timeout=timeout)
    firsts = {row.dataset: row for row in reversed(rows)}
    for row in firsts.values():
        _score(reward, row)
    if "math" in {verifier.lower(), *(str(d).strip().lower() for d in firsts)}:
        load_reward("math", timeout=timeout)(completions=[_SYMBOLIC_WARMUP[0]], ground_truth=[_SYMBOLIC_WARMUP[1]])
    outcomes = []
    for row in rows:
        start = time.perf_counter()
        verdict = _score(reward, row)
        seconds = time.perf_counter() - start
        found = classify(row.completion, row.ground_truth, verifier_for(verifier, row.dataset), verdict)
        outcomes.append(Outcome(row, verdict, found, seconds))
    return outcomes


@dataclass(frozen=True)
class Counts:
    """Confusion counts of the scored rows (positive: the verifier accepts / the label says right)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Counts:
        scored = [o for o in outcomes if o.verdict is not None]
        return cls(
            tp=sum(o.verdict and o.row.label for o in scored),
            fp=sum(o.verdict and not o.row.label for o in scored),
            tn=sum(not o.verdict and not o.row.label for o in scored),
            fn=sum(not o.verdict and o.row.label for o in scored),
        )

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def rates(self) -> dict[str, tuple[float | None, tuple[float, float] | None, str]]:
        """``name -> (value, 95% interval, counts)`` for agreement, FPR, FNR and Youden's J."""
        right, wrong, agree = self.tp + self.fn, self.fp + self.tn, self.tp + self.tn

        def rate(k: int, n: int) -> float | None:
            return k / n if n else None

        j = None if not (right and wrong) else self.tp / right - self.fp / wrong
        return {
            "agreement": (rate(agree, self.n), wilson(agree, self.n), f"{agree}/{self.n}"),
            "false-positive rate": (rate(self.fp, wrong), wilson(self.fp, wrong), f"{self.fp}/{wrong} labelled wrong"),
            "false-negative rate": (rate(self.fn, right), wilson(self.fn, right), f"{self.fn}/{right} labelled right"),
            "Youden's J": (j, newcombe(self.tp, right, self.fp, wrong), "sensitivity - FPR"),
        }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def report(outcomes: Sequence[Outcome], path: str, verifier: str) -> str:
    """The printed audit (rules in the module docstring)."""
    counts = Counts.of(outcomes)
    unscored = sum(o.verdict is None for o in outcomes)
    lines = [f"verifier-audit {path} --verifier {verifier}: {len(outcomes)} rows, {counts.n} scored, "
             f"{unscored} unscored (no verifier owns them)", "",
             f"{'':21}{'value':>8}  {'95% interval':<18} counts"]  # fmt: skip
    for name, (value, interval, detail) in counts.rates().items():
        shown = f"{value:.3f}" if name == "Youden's J" and value is not None else _pct(value)
        if interval is None:
            span = "n/a"
        elif name == "Youden's J":
            span = f"[{interval[0]:.3f}, {interval[1]:.3f}]"
        else:
            span = f"[{_pct(interval[0])}, {_pct(interval[1])}]"
        lines.append(f"{name:21}{shown:>8}  {span:<18} {detail}")
    scored = [o for o in outcomes if o.verdict is not None]
    kinds = {k: [o for o in scored if o.diagnosis.category == k] for k in ("correct", "wrong", "hedge", "no_answer")}
    negatives = [o for o in scored if not o.verdict and o.row.label]
    cause = {k: sum(o.diagnosis.category == k for o in negatives) for k in ("wrong", "hedge", "no_answer")}
    lines += [
        "",
        f"verdicts: accepted {len(kinds['correct'])}; rejected as a wrong answer {len(kinds['wrong'])}, as a hedge "
        f"{len(kinds['hedge'])}, as a parse failure (no answer extracted) {len(kinds['no_answer'])}",
        f"false negatives by cause: wrong answer {cause['wrong']}, hedge {cause['hedge']}, "
        f"parse failure {cause['no_answer']}",
        "",
        f"{'category':24}{'n':>4}{'agree':>8}{'FP':>4}{'FN':>4}{'hedge':>7}{'parse fail':>12}",
    ]
    for category in sorted({o.row.category for o in scored}):
        group = [o for o in scored if o.row.category == category]
        c = Counts.of(group)
        hedge = sum(o.diagnosis.category == "hedge" for o in group)
        parse = sum(o.diagnosis.category == "no_answer" for o in group)
        lines.append(f"{category[:23]:24}{len(group):>4}{_pct((c.tp + c.tn) / c.n):>8}{c.fp:>4}{c.fn:>4}"
                     f"{hedge:>7}{parse:>12}")  # fmt: skip
    ms = [1000 * o.seconds for o in outcomes]
    lines += ["", f"latency per row: p50 {nearest_rank(ms, 0.5):.2f} ms, p99 {nearest_rank(ms, 0.99):.2f} ms "
              f"(n={len(ms)}, after warm-up)"]  # fmt: skip
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tulu-recipes verifier-audit", description="Agreement of a verifier with your labelled completions."
    )
    parser.add_argument("labelled", help="JSONL: completion, ground_truth, label (true/false), optional category")
    parser.add_argument("--verifier", required=True, help="gsm8k, math, ifeval, verifiable or package.module:function")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per item (default: %(default)s)"
    )

    def error(message: str) -> None:
        raise RecipeError(f"verifier-audit: {message}")

    parser.error = error  # one line and exit 2 (run_cli), not argparse's usage block
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    name = args.verifier
    if ":" not in name and name.lower() not in REGISTRY:
        raise RecipeError(f"--verifier: unknown verifier {name!r}; registered: {', '.join(sorted(REGISTRY))}, "
                          "or a package.module:function plug-in")  # fmt: skip
    if args.timeout <= 0:
        raise RecipeError(f"--timeout must be positive, got {args.timeout}")
    rows = read_labelled(args.labelled, name)
    try:
        load_reward(name, timeout=args.timeout)
    except (ImportError, AttributeError, TypeError, ValueError) as err:
        raise RecipeError(f"--verifier {name}: {err}") from None
    print(report(audit(rows, name, args.timeout), args.labelled, name))
    return 0
