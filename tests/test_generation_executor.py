"""Executor: retries on injected 429/500/timeouts, failures recorded, concurrency cap, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tulu_recipes.generation.backends import MalformedOutputError, ModelSpec, OpenAIBackend
from tulu_recipes.generation.executor import (
    RetryPolicy,
    failures_path,
    item_id,
    read_records,
    repair_jsonl,
    run_items,
)

try:
    from tests.openai_server import ChatServer, Reply, last_user_text
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply, last_user_text

REPO = Path(__file__).resolve().parents[1]
NO_WAIT = RetryPolicy(max_retries=3, base_delay=0.0, max_delay=0.0, jitter=0.0)


def test_item_id_is_stable_and_order_free() -> None:
    assert item_id({"a": 1, "b": [1, 2]}) == item_id({"b": [1, 2], "a": 1})
    assert item_id({"a": 1}) != item_id({"a": 2})
    assert len(item_id({"a": 1})) == 24


def test_retry_delays_are_exponential_seeded_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=0.5, seed=3)
    delays = [policy.delay("item", attempt) for attempt in range(6)]
    for attempt, delay in enumerate(delays):
        base = min(10.0, 2.0**attempt)
        assert base <= delay < base * 1.5
    assert delays == [policy.delay("item", attempt) for attempt in range(6)]  # same seed, same delays
    assert delays != [RetryPolicy(seed=4, max_delay=10.0).delay("item", a) for a in range(6)]
    assert policy.delay("item", 0, retry_after=7.0) == 7.0  # the server's Retry-After wins when longer
    assert policy.delay("item", 0, retry_after=99.0) == 10.0  # ...but never beyond max_delay


def fault_injector(faults: dict[str, list[Reply]]) -> tuple[ChatServer, Counter]:
    """Per prompt text, replay the listed faulty replies first, then answer normally."""
    calls: Counter = Counter()
    lock = threading.Lock()

    def respond(request: dict) -> Reply:
        text = last_user_text(request)
        with lock:
            calls[text] += 1
            attempt = calls[text]
        script = faults.get(text, [])
        if attempt <= len(script):
            return script[attempt - 1]
        return Reply(content=f"answer to {text}")

    return ChatServer(respond), calls


def test_retries_transient_faults_then_records_failures(tmp_path: Path) -> None:
    faults = {
        "p0": [Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500)],  # recovers on call 3
        "p1": [Reply(content="x", delay=0.6)],  # one client timeout, then fine
        "p2": [Reply(raw=b"garbage")] * 10,  # always malformed: fails after 1 + 3 retries
        "p3": [Reply(status=400)],  # fatal: no retry
        "p4": [Reply(status=503)] * 3,  # recovers on the last allowed retry
    }
    server, calls = fault_injector(faults)
    out = tmp_path / "out.jsonl"
    slept: list[float] = []
    with server:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, timeout=0.3, max_retries=0))

        def work(item: dict) -> dict:
            completion = backend.generate([{"role": "user", "content": item["prompt"]}])
            return {"text": completion.text, "usage": {"prompt_tokens": 1, "completion_tokens": 3}}

        items = [{"prompt": f"p{i}"} for i in range(8)]
        summary = run_items(items, work, out, max_concurrency=3, retry=NO_WAIT, progress=False, sleep=slept.append)

    assert (summary.total, summary.done, summary.failed, summary.skipped) == (8, 6, 2, 0)
    assert summary.retries == 2 + 1 + 3 + 0 + 3
    assert (summary.prompt_tokens, summary.completion_tokens) == (6, 18)
    assert len(slept) == summary.retries
    assert dict(calls) == {"p0": 3, "p1": 2, "p2": 4, "p3": 1, "p4": 4, "p5": 1, "p6": 1, "p7": 1}
    records = read_records(out)
    assert sorted(r["input"]["prompt"] for r in records) == ["p0", "p1", "p4", "p5", "p6", "p7"]
    assert all(r["output"]["text"] == f"answer to {r['input']['prompt']}" for r in records)
    failed = [json.loads(line) for line in failures_path(out).read_text().splitlines()]
    assert sorted(f["input"]["prompt"] for f in failed) == ["p2", "p3"]
    assert {f["input"]["prompt"]: f["retries"] for f in failed} == {"p2": 3, "p3": 0}

    # A second run skips the finished items and retries only the failed ones.
    with ChatServer(lambda request: Reply(content=f"answer to {last_user_text(request)}")) as server2:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server2.base_url, max_retries=0))
        summary = run_items(items, work, out, retry=NO_WAIT, progress=False)
        assert sorted(last_user_text(r) for r in server2.requests) == ["p2", "p3"]
    assert (summary.done, summary.failed, summary.skipped) == (2, 0, 6)
    lines = out.read_text().splitlines()
    assert len(lines) == 8 and len({json.loads(line)["id"] for line in lines}) == 8
    assert failures_path(out).read_text() == ""


def test_concurrency_is_capped(tmp_path: Path) -> None:
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def work(item: dict) -> dict:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return {"i": item["i"]}

    summary = run_items([{"i": i} for i in range(30)], work, tmp_path / "o.jsonl", max_concurrency=3, progress=False)
    assert summary.done == 30
    assert state["peak"] == 3


def test_duplicate_inputs_run_once_and_torn_line_is_repaired(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    good = json.dumps({"id": item_id({"i": 0}), "input": {"i": 0}, "output": {"v": 0}}) + "\n"
    out.write_text(good + '{"id": "torn', encoding="utf-8")
    seen: list[int] = []

    def work(item: dict) -> dict:
        seen.append(item["i"])
        if item["i"] == 2:
            raise MalformedOutputError("bad")
        return {"v": item["i"]}

    summary = run_items([{"i": 0}, {"i": 1}, {"i": 1}, {"i": 2}], work, out, retry=NO_WAIT, progress=False)
    assert sorted(seen) == [1, 2, 2, 2, 2]  # 0 was done, the duplicate 1 ran once, 2 tried 1 + 3 times
    assert (summary.done, summary.failed, summary.skipped) == (1, 1, 2)
    lines = out.read_text().splitlines()
    assert [json.loads(line)["output"]["v"] for line in lines] == [0, 1]
    assert repair_jsonl(out) == 0


def _write_recipe(tmp_path: Path, base_url: str, n: int) -> Path:
    personas = tmp_path / "personas.jsonl"
    personas.write_text("".join(json.dumps({"persona": f"persona number {i}"}) + "\n" for i in range(n)))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"personas: {personas}\n"
        "skills: [math]\n"
        f"prompt_model: {{name: stub, backend: openai, base_url: '{base_url}', timeout: 10}}\n"
        f"output_path: {tmp_path / 'sft.jsonl'}\n"
        "max_concurrency: 2\n"
        "progress: false\n"
    )
    return recipe


def test_sigkill_then_resume_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    n = 40
    slow = threading.Event()
    slow.set()

    def respond(request: dict) -> Reply:
        text = last_user_text(request)
        delay = 0.04 if slow.is_set() else 0.0
        if text.startswith("Write one challenging math word problem"):
            persona = text.split("Persona: ", 1)[1].split("\n", 1)[0]
            return Reply(content=f"A problem for {persona}?", delay=delay)
        return Reply(content=f"Solution to: {text}", delay=delay)

    cache = tmp_path / "sft.jsonl.cache.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, str(REPO / "recipes" / "synthesize.py")]
    with ChatServer(respond) as server:
        recipe = _write_recipe(tmp_path, server.base_url, n)
        proc = subprocess.Popen([*cmd, str(recipe)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # wait for progress, however slow the machine: the loop ends when 8 items are cached or the process exits
        while not (cache.exists() and cache.read_text().count("\n") >= 8):
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        done_at_kill = len(read_records(cache))
        assert 8 <= done_at_kill < n
        with open(cache, "a") as f:  # as if the kill had torn a line in half
            f.write('{"id": "deadbeef", "input": {"skill": "ma')
        requests_before = len(server.requests)

        slow.clear()
        result = subprocess.run([*cmd, str(recipe)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        resumed_requests = len(server.requests) - requests_before

    assert resumed_requests == 2 * (n - done_at_kill)  # finished items were not generated again
    ids = [json.loads(line)["id"] for line in cache.read_text().splitlines()]
    assert len(ids) == n and len(set(ids)) == n
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    personas = sorted(row["persona"] for row in rows)
    assert personas == sorted(f"persona number {i}" for i in range(n))
    for row in rows:
        user, assistant = row["messages"]
        assert user["content"] == f"A problem for {row['persona']}?"
        assert assistant["content"] == f"Solution to: {user['content']}"
        assert row["ground_truth"] is None and row["dataset"] is None


def test_cli_rejects_unknown_override_keys(tmp_path: Path) -> None:
    from tulu_recipes.generation import synthesize

    recipe = _write_recipe(tmp_path, "http://127.0.0.1:9/v1", 1)
    with pytest.raises((SystemExit, ValueError)) as info:  # RecipeError is a ValueError
        synthesize.main([str(recipe), "--max_concurency", "3"])
    assert "max_concurency" in str(info.value)
