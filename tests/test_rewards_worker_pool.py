"""Hard time limits and robustness: killed workers, non-main threads, 10,000+ adversarial completions."""

from __future__ import annotations

import importlib.util
import json
import random
import threading

import pytest

from rewards import load_reward
from rewards.math_flex import prepare
from rewards.worker_pool import TimeLimitedPool, _pools, get_pool, run_limited


def test_overdue_item_is_killed_and_pool_stays_usable():
    pool = get_pool()
    kills = pool.kills
    out = run_limited("time:sleep", [(0.01,), (60,), (0.01,)], timeout=0.5, default="late")
    assert out == [None, "late", None]  # the 60 s item got the default: it was cut off, not waited for
    assert pool.kills == kills + 1  # by killing its worker
    assert load_reward("math")(None, ["\\boxed{\\frac{\\sqrt{2}}{2}}"], ground_truth=["\\frac{1}{\\sqrt2}"]) == [10.0]


def test_limit_works_off_the_main_thread():
    results = {}

    def work():
        results["sleep"] = run_limited("time:sleep", [(60,)], timeout=0.3, default="late")
        results["math"] = load_reward("math")(None, ["\\boxed{(x+1)^2}"], ground_truth=["x^2+2x+1"])

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert results == {"sleep": ["late"], "math": [10.0]}


def test_exceptions_and_dead_workers_give_the_default():
    pool = TimeLimitedPool(workers=1)
    try:
        assert pool.map("operator:truediv", [(1, 0), (6, 3)], timeout=5, default=-1) == [-1, 2.0]
        assert pool.map("os:_exit", [(3,)], timeout=5, default="dead") == ["dead"]  # worker dies mid-item
        assert pool.map("operator:add", [(1, 2)], timeout=5) == [3]
    finally:
        pool.close()


def _adversarial(sentinel: str) -> list[str]:
    """Hostile completions: towers, huge numbers, long and deep input, unicode, code and TeX payloads."""
    payloads = [
        "\\boxed{9^{9^{9^{9}}}}",
        "9^9^9^9",
        "\\boxed{1000000!}",
        "\\boxed{2^{99999999999}}",
        "\\boxed{10^{10^{10}}}",
        "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}",
        "{" * 100_000,
        "\\boxed{" * 20_000,
        "1" * 100_000,
        "x" * 100_000,
        "-" * 100_000 + "5",
        " " * 100_000 + "#### 5",
        "#### " + "1," * 30_000,
        "The answer is " + "5 or " * 10_000 + "6",
        f"__import__('os').system('touch {sentinel}')",
        f"\\boxed{{__import__('os').system('touch {sentinel}')}}",
        f"$__import__('os').system('touch {sentinel}')$",
        "\\boxed{\\input{/etc/passwd}}",
        f"\\boxed{{\\immediate\\write18{{touch {sentinel}}}}}",
        "\\boxed{\\def\\x{\\x}\\x}",
        "\\boxed{\\frac{1}{0}}",
        "\\boxed{0^{-1}}",
        "\\boxed{\\sqrt{-1}}",
        "\\boxed{\\infty - \\infty}",
        "\\boxed{\\begin{pmatrix}" + "1 & " * 300 + "1\\end{pmatrix}}",
        "\\boxed{" + "(" * 3000 + ")" * 3000 + "}",
        "Final Answer: The final answer is " * 3000,
        "$" * 50_000,
        "#### " * 20_000,
        "\u202e\u0000\ud7ff\U0001f600 \\boxed{\u2212\u00bd}",
        "\\boxed{ＡＢＣ１２３}",
        "\\boxed{٣}",
        "\\boxed{\\int_0^1 x\\,dx}",
        "\\boxed{\\sum_{n=1}^{\\infty} \\frac{1}{n^2}}",
        "\\boxed{\\lim_{x\\to 0} \\frac{\\sin x}{x}}",
        "\\boxed{x = 3 \\text{ and } y = 4}",
    ]
    rng = random.Random(1234)
    alphabet = "0123456789+-*/^{}()[]\\$#,. xyzabcfrqtpisnmoe!=_|&\n" + "−½√π∞"
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
    ]

    def formula(depth: int) -> str:
        roll = rng.random()
        if depth > 3 or roll < 0.3:
            return rng.choice([str(rng.randint(-99, 999)), rng.choice("xyzab"), "\\pi", f"{rng.randint(1, 9)}.5"])
        if roll < 0.5:
            return f"\\frac{{{formula(depth + 1)}}}{{{formula(depth + 1)}}}"
        if roll < 0.6:
            return f"\\sqrt{{{formula(depth + 1)}}}"
        if roll < 0.7:
            return f"({formula(depth + 1)})^{{{rng.randint(0, 3)}}}"
        return f"{formula(depth + 1)} {rng.choice('+-')} {formula(depth + 1)}"

    out = list(payloads)
    while len(out) < 10_200:
        roll = rng.random()
        if roll < 0.45:  # character soup
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))))
        elif roll < 0.9:  # well-formed answers in every answer position
            out.append(rng.choice(["\\boxed{%s}", "#### %s", "The answer is $%s$.", "%s"]) % formula(0))
        else:  # fragments of answer syntax glued together
            out.append("".join(rng.choice(pieces) + str(rng.randint(-99, 99)) for _ in range(rng.randint(1, 8))))
    return out


def test_ten_thousand_adversarial_completions_through_every_verifier(tmp_path):
    sentinel = tmp_path / "pwned"
    completions = _adversarial(str(sentinel))
    assert len(completions) >= 10_000
    ifeval_gt = json.dumps({"func_name": "validate_lowercase"})
    suites = [("gsm8k", "5"), ("math", "\\frac{1}{2}")]
    if importlib.util.find_spec("rewards.ifeval") is not None:
        suites.append(("ifeval", ifeval_gt))
    timeout = 2.0
    # items that reach the worker pool: at most these many per verifier (measured: math 223 of 10,200,
    # the rest are decided in-process; gsm8k never uses the pool; ifeval always does)
    # IFEval gets the hostile payloads plus 2,000 generated items: its checker costs ~5 ms an item, so
    # 10,000 would add about a minute to the suite without testing anything new about the limit.
    batches = {"gsm8k": completions, "math": completions, "ifeval": completions[:2_100]}
    in_pool = {
        "gsm8k": 0,
        "math": sum(prepare(c, "\\frac{1}{2}")[0] is None for c in completions),
        "ifeval": len(batches["ifeval"]),
    }
    assert in_pool["math"] <= 230
    for name, gold in suites:
        fn = load_reward(name, timeout=timeout)
        batch = batches[name]
        kills = {key: p.kills for key, p in _pools.items()}
        scores = fn(None, batch, ground_truth=[gold] * len(batch))
        assert len(scores) == len(batch)
        assert set(scores) <= {0.0, 10.0}
        # no item runs past its limit: only items sent to the pool can be cut off (killed), and the rest are
        # decided in-process, whatever the items contain
        killed = sum(p.kills - kills.get(key, 0) for key, p in _pools.items())
        assert killed <= in_pool[name], (name, killed)
    math = load_reward("math", timeout=timeout)
    for payload in completions[:40]:
        assert math(None, [payload], ground_truth=["\\frac{1}{2}"]) == [0.0]
    assert not sentinel.exists()


def test_hypothesis_text_never_raises():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    from rewards import gsm8k, math_flex

    @hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
    @hypothesis.given(st.text(max_size=200), st.text(max_size=40))
    def check(completion, gold):
        assert isinstance(gsm8k.verify(completion, gold), bool)
        decision, _, _ = math_flex.prepare(completion, gold)
        assert decision in (True, False, None)

    check()
