"""A loopback HTTP server speaking the OpenAI chat-completions protocol, for tests.

It binds 127.0.0.1 on a free port and answers ``POST /v1/chat/completions`` with whatever a responder
callable returns for the parsed request: a :class:`Reply` (text, HTTP status, delay, raw body). Every request
is recorded, so tests can count calls and inspect bodies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server sends: ``content`` as a normal completion, or ``status``/``raw`` to inject faults;
    ``delay`` seconds of sleep first (to trip client timeouts)."""

    content: str | None = None
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[dict[str, Any]], Reply]


def last_user_text(request: dict[str, Any]) -> str:
    return [m["content"] for m in request["messages"] if m["role"] == "user"][-1]


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    def do_GET(self) -> None:  # noqa: N802 - the model list: what a server-readiness probe asks (datatrove's)
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, b'{"error": "not found"}')
            return
        with self.server.lock:
            self.server.probes += 1
        self._send(200, json.dumps({"object": "list", "data": []}).encode())

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, b'{"error": "not found"}')
            return
        request = json.loads(body)
        with self.server.lock:
            self.server.requests.append(request)
            self.server.auth_headers.append(self.headers.get("Authorization"))
        reply = self.server.responder(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.raw is not None:
            self._send(reply.status, reply.raw, reply.headers)
            return
        if reply.status != 200:
            self._send(reply.status, json.dumps({"error": {"message": "injected"}}).encode(), reply.headers)
            return
        prompt_words = sum(len(m["content"].split()) for m in request["messages"])
        payload = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": request.get("model"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": reply.content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(str(reply.content).split())},
        }
        self._send(200, json.dumps(payload).encode(), reply.headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


class ChatServer(ThreadingHTTPServer):
    """Use as a context manager; ``base_url`` is ``http://127.0.0.1:<port>/v1``."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, responder: Responder, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self.probes = 0  # GET /v1/models
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()
