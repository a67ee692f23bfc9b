"""Benchmark: requests per second of the generation orchestrator (`run_items` + a backend) against loopback.

A minimal HTTP/1.1 keep-alive chat-completions server runs in a child process (asyncio, one fixed answer), so
the measured process does only the orchestrator's work: the executor, item ids, one fsynced JSONL line per result,
and the HTTP client. Rows, at ``--concurrency`` requests in flight:

- ``executor only``: an async ``fn`` that returns at once (the ceiling the executor itself sets: ids, tasks, fsync);
- ``executor, threads``: the same with a plain ``fn``, which the executor runs in ``--concurrency`` threads;
- ``openai async``: `OpenAIBackend.agenerate` (what the pipelines run: one ``openai.AsyncOpenAI`` on the
  generation event loop, the SDK's aiohttp transport);
- ``openai sync (old)``: one sync ``openai.OpenAI`` shared by ``--concurrency`` threads, as the backend ran before;
- ``urllib (old)``: the hand-written standard-library client this project used before that (one connection per
  request), kept here only to compare.

    python benchmarks/generation_orchestrator.py --requests 4000 --concurrency 64

Client CPU is this process's user+system time (all its threads); the server's CPU is not counted. ``req/CPU-s`` is
requests per second of that CPU: on a shared machine req/s moves with the load (printed at start and end), while it
moves much less.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tulu_recipes.generation.backends import (
    ModelSpec,
    OpenAIBackend,
    openai_client,
    parse_chat_response,
    translate_errors,
)
from tulu_recipes.generation.executor import RunSummary, run_items

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": "bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
).encode()


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                    close = True
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(ANSWER)).encode()
                + (b"\r\nConnection: close" if close else b"")
                + b"\r\n\r\n"
                + ANSWER
            )
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve(port: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_serve_connection, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class UrllibBackend:
    """The project's former client: one `urllib.request.urlopen` per request (for comparison only)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.url = f"{spec.base_url}/chat/completions"

    def generate(self, messages: list[dict[str, str]], **_: Any) -> Any:
        body = {"model": self.spec.model_id, "messages": messages, "temperature": 1.0, "max_tokens": 8}
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.spec.timeout) as response:
            return parse_chat_response(response.read())


class SyncOpenAIBackend:
    """The backend as it was before the event loop: the sync ``openai.OpenAI``, called from the executor's threads."""

    def __init__(self, spec: ModelSpec) -> None:
        self.request_body = OpenAIBackend(spec).request_body
        self.client = openai_client(spec)

    def generate(self, messages: list[dict[str, str]], **_: Any) -> Any:
        import httpx2

        with translate_errors():
            response = self.client.post("/chat/completions", body=self.request_body(messages), cast_to=httpx2.Response)
            return parse_chat_response(response.read())


def measure(name: str, fn: Any, requests: int, concurrency: int, folder: Path) -> dict[str, Any]:
    items = [{"prompt": f"question {i} of {name}"} for i in range(requests)]
    start_cpu = time.process_time()
    start = time.perf_counter()
    summary: RunSummary = run_items(items, fn, folder / f"{name}.jsonl", max_concurrency=concurrency, progress=False)
    wall = time.perf_counter() - start
    cpu = time.process_time() - start_cpu
    assert summary.done == requests, f"{name}: {summary}"
    return {"name": name, "n": requests, "seconds": wall, "rps": requests / wall, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--skip-urllib", action="store_true", help="Leave out the old urllib client's row.")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.requests < 1 or args.concurrency < 1:
        print("error: --requests and --concurrency must be positive", file=sys.stderr)
        sys.exit(2)

    load_start = os.getloadavg()
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        spec = ModelSpec(name="bench", base_url=f"http://127.0.0.1:{port}/v1", max_tokens=8)
        backend, old_backend = OpenAIBackend(spec), SyncOpenAIBackend(spec)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            messages = [{"role": "user", "content": "warm up"}]
            backend.generate(messages)  # imports, the loop and the first connection, outside the clock
            old_backend.generate(messages)

            async def instant(item: dict[str, Any]) -> dict[str, Any]:
                return {"text": "ok"}

            async def via_async(item: dict[str, Any]) -> dict[str, Any]:
                return {"text": (await backend.agenerate([{"role": "user", "content": item["prompt"]}])).text}

            def via(client: Any) -> Any:
                return lambda item: {"text": client.generate([{"role": "user", "content": item["prompt"]}]).text}

            runs = [
                ("executor only", instant),
                ("executor, threads", lambda item: {"text": "ok"}),
                ("openai async", via_async),
                ("openai sync (old)", via(old_backend)),
            ]
            if not args.skip_urllib:
                runs.append(("urllib (old)", via(UrllibBackend(spec))))
            for name, fn in runs:
                rows.append(measure(name, fn, args.requests, args.concurrency, folder))
    finally:
        server.terminate()
        server.wait()

    load_end = os.getloadavg()
    python = sys.version.split()[0]
    print(
        f"\nconcurrency {args.concurrency}, {os.cpu_count()} CPUs, Python {python}, "
        f"1/5-min load {load_start[0]:.2f}/{load_start[1]:.2f} at start, {load_end[0]:.2f}/{load_end[1]:.2f} at end"
    )
    header = ("orchestrator", "requests", "seconds", "req/s", "client CPU ms/req", "req/CPU-s")
    print("{:<18} {:>8} {:>8} {:>8} {:>18} {:>10}".format(*header))
    for row in rows:
        cpu_ms, per_cpu = 1000 * row["cpu"] / row["n"], row["n"] / max(row["cpu"], 1e-9)
        name, n, seconds, rps = row["name"], row["n"], row["seconds"], row["rps"]
        print(f"{name:<18} {n:>8} {seconds:>8.2f} {rps:>8.0f} {cpu_ms:>18.2f} {per_cpu:>10.0f}")


if __name__ == "__main__":
    main()
