"""Benchmark: requests per second of the generation orchestrator (`run_items` + a backend) against loopback.

A minimal HTTP/1.1 keep-alive chat-completions server runs in a child process (asyncio, one fixed answer), so
the measured process does only the orchestrator's work: the executor's threads, item ids, one fsynced JSONL line
per result, and the HTTP client. Rows, at ``--concurrency`` requests in flight:

- ``executor only``: ``fn`` returns at once (the ceiling the executor itself sets: ids, futures, fsync);
- ``openai client``: `OpenAIBackend` (the official ``openai`` client, connection pooling);
- ``urllib (old)``: the hand-written standard-library client this project used before (one connection per
  request), kept here only to compare.

    python benchmarks/generation_orchestrator.py --requests 4000 --concurrency 64

Client CPU is this process's user+system time; the server's CPU is not counted. The machine's 1-minute load is
printed with the table: on a shared machine the rates move with it.
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

from tulu_recipes.generation.backends import ModelSpec, OpenAIBackend, parse_chat_response
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


def measure(name: str, fn: Any, requests: int, concurrency: int, folder: Path) -> dict[str, Any]:
    items = [{"prompt": f"question {i} of {name}"} for i in range(requests)]
    start_cpu = time.process_time()
    start = time.perf_counter()
    summary: RunSummary = run_items(items, fn, folder / f"{name}.jsonl", max_concurrency=concurrency, progress=False)
    wall = time.perf_counter() - start
    cpu = time.process_time() - start_cpu
    assert summary.done == requests, f"{name}: {summary}"
    return {"name": name, "n": requests, "seconds": wall, "rps": requests / wall, "cpu_ms": 1000 * cpu / requests}


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
        openai_backend = OpenAIBackend(spec)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            messages = [{"role": "user", "content": "warm up"}]
            openai_backend.generate(messages)  # imports and the first connection, outside the clock
            rows.append(measure("executor only", lambda item: {"text": "ok"}, args.requests, args.concurrency, folder))

            def via_openai(item: dict[str, Any]) -> dict[str, Any]:
                return {"text": openai_backend.generate([{"role": "user", "content": item["prompt"]}]).text}

            rows.append(measure("openai client", via_openai, args.requests, args.concurrency, folder))
            if not args.skip_urllib:
                old = UrllibBackend(spec)

                def via_urllib(item: dict[str, Any]) -> dict[str, Any]:
                    return {"text": old.generate([{"role": "user", "content": item["prompt"]}]).text}

                rows.append(measure("urllib (old)", via_urllib, args.requests, args.concurrency, folder))
    finally:
        server.terminate()
        server.wait()

    load = os.getloadavg()[0]
    python = sys.version.split()[0]
    print(f"\nconcurrency {args.concurrency}, {os.cpu_count()} CPUs, 1-min load {load:.2f}, Python {python}")
    print(f"{'orchestrator':<16} {'requests':>8} {'seconds':>8} {'req/s':>8} {'client CPU ms/req':>18}")
    for row in rows:
        print(f"{row['name']:<16} {row['n']:>8} {row['seconds']:>8.2f} {row['rps']:>8.0f} {row['cpu_ms']:>18.2f}")


if __name__ == "__main__":
    main()
