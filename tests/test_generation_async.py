"""The async request path: items as tasks on the generation event loop, one ``openai.AsyncOpenAI`` per model.

Against the real loopback server: the executor's bound on requests in flight, the retry/failure split through
``agenerate``, the key read per request by concurrent requests, and a forked child (datatrove's local workers fork)
that gets a loop of its own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tulu_recipes.generation import aio
from tulu_recipes.generation.backends import ModelSpec, OpenAIBackend
from tulu_recipes.generation.executor import RetryPolicy, failures_path, read_records, run_items

try:
    from tests.openai_server import ChatServer, Reply, last_user_text
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply, last_user_text

NO_WAIT = RetryPolicy(max_retries=3, base_delay=0.0, max_delay=0.0, jitter=0.0)


def test_requests_in_flight_never_exceed_max_concurrency(tmp_path: Path) -> None:
    """12 items, 4 at a time, each request held 50 ms by the server: the server sees exactly 4 at once at the peak."""
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def respond(request: dict) -> Reply:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return Reply(content=f"answer to {last_user_text(request)}")

    with ChatServer(respond) as server:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, max_retries=0))

        async def work(item: dict) -> dict:
            completion = await backend.agenerate([{"role": "user", "content": item["prompt"]}])
            return {"text": completion.text}

        items = [{"prompt": f"p{i}"} for i in range(12)]
        summary = run_items(items, work, tmp_path / "o.jsonl", max_concurrency=4, progress=False)
    assert summary.done == 12 and len(server.requests) == 12
    assert state["peak"] == 4
    assert sorted(r["output"]["text"] for r in read_records(tmp_path / "o.jsonl")) == sorted(
        f"answer to p{i}" for i in range(12)
    )


def test_async_items_are_retried_and_failures_recorded_like_threaded_ones(tmp_path: Path) -> None:
    """The same faults as the threaded executor test, through coroutines: 429/500/503 and a timeout are retried,
    a malformed body until the bound, a 400 never; the delays go through the awaited ``sleep``."""
    faults = {
        "p0": [Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500)],
        "p1": [Reply(content="x", delay=0.6)],
        "p2": [Reply(raw=b"garbage")] * 10,
        "p3": [Reply(status=400)],
        "p4": [Reply(status=503)] * 3,
    }
    calls: Counter = Counter()
    lock = threading.Lock()

    def respond(request: dict) -> Reply:
        text = last_user_text(request)
        with lock:
            calls[text] += 1
            attempt = calls[text]
        script = faults.get(text, [])
        return script[attempt - 1] if attempt <= len(script) else Reply(content=f"answer to {text}")

    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)

    out = tmp_path / "out.jsonl"
    with ChatServer(respond) as server:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, timeout=0.3, max_retries=0))

        async def work(item: dict) -> dict:
            completion = await backend.agenerate([{"role": "user", "content": item["prompt"]}])
            return {"text": completion.text, "usage": {"prompt_tokens": 1, "completion_tokens": 3}}

        items = [{"prompt": f"p{i}"} for i in range(8)]
        summary = run_items(items, work, out, max_concurrency=3, retry=NO_WAIT, progress=False, sleep=record_sleep)

    assert (summary.total, summary.done, summary.failed, summary.retries) == (8, 6, 2, 2 + 1 + 3 + 0 + 3)
    assert (summary.prompt_tokens, summary.completion_tokens) == (6, 18)
    assert len(slept) == summary.retries
    assert dict(calls) == {"p0": 3, "p1": 2, "p2": 4, "p3": 1, "p4": 4, "p5": 1, "p6": 1, "p7": 1}
    failed = {r["input"]["prompt"]: r for r in read_records(failures_path(out))}
    assert {k: v["retries"] for k, v in failed.items()} == {"p2": 3, "p3": 0}
    assert failed["p3"]["error"].startswith("FatalError('HTTP 400")
    assert failed["p2"]["error"].startswith("MalformedOutputError(")


def test_concurrent_requests_each_read_the_key_when_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs of 6 concurrent requests on one backend (one client): the key rotated between them is the one the
    second run's requests send; none reuses the first."""
    monkeypatch.setenv("TEST_ASYNC_KEY", "sk-async-first-0001")
    with ChatServer(lambda request: Reply(content="ok")) as server:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, api_key_env="TEST_ASYNC_KEY"))

        async def work(item: dict) -> dict:
            return {"text": (await backend.agenerate([{"role": "user", "content": str(item)}])).text}

        run_items([{"i": i} for i in range(6)], work, tmp_path / "a.jsonl", max_concurrency=6, progress=False)
        monkeypatch.setenv("TEST_ASYNC_KEY", "sk-async-second-002")
        run_items([{"i": i} for i in range(6)], work, tmp_path / "b.jsonl", max_concurrency=6, progress=False)
    assert server.auth_headers == ["Bearer sk-async-first-0001"] * 6 + ["Bearer sk-async-second-002"] * 6


def _generate_in_child(base_url: str, queue: multiprocessing.Queue) -> None:
    backend = OpenAIBackend(ModelSpec(name="m", base_url=base_url, max_retries=0))
    queue.put(backend.generate([{"role": "user", "content": "from the child"}]).text)


def test_a_forked_child_gets_its_own_loop() -> None:
    """The parent's loop thread does not survive a fork: the child starts a fresh one instead of waiting forever."""
    with ChatServer(lambda request: Reply(content=f"echo: {last_user_text(request)}")) as server:
        parent = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, max_retries=0))
        assert parent.generate([{"role": "user", "content": "parent"}]).text == "echo: parent"  # loop running
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_generate_in_child, args=(server.base_url, queue))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0
        assert queue.get(timeout=5) == "echo: from the child"
        assert parent.generate([{"role": "user", "content": "again"}]).text == "echo: again"


def test_a_blocking_call_on_the_loop_itself_fails_fast() -> None:
    """``generate`` from inside a coroutine on the generation loop would wait for itself: it raises instead."""
    backend = OpenAIBackend(ModelSpec(name="m", base_url="http://127.0.0.1:9/v1"))

    async def blocking_inside() -> None:
        backend.generate([{"role": "user", "content": "x"}])

    with pytest.raises(RuntimeError, match="await its async form"):
        aio.run(blocking_inside())
    assert asyncio.iscoroutinefunction(backend.agenerate)
