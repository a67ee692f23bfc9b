"""A loopback HTTP server speaking the OpenAI Batch API (and chat completions), for tests.

Endpoints: ``POST /v1/chat/completions`` (answered by a responder, as in `openai_server`), ``POST /v1/files``
(multipart upload), ``POST /v1/batches``, ``GET /v1/batches`` (list), ``GET /v1/batches/{id}`` and
``GET /v1/files/{id}/content``. A batch moves ``validating`` -> ``in_progress`` -> its outcome on successive GETs;
``outcome(batch)`` (the batch object, with the ``metadata`` it was created with) picks ``completed``, ``failed``
(its error message quotes the ``Authorization`` header of the poll), ``expired`` (only the first half of the rows
answered, in an output file) or ``cancelled``. Rows are answered by the responder: a 200 goes to the output file,
any other status to the error file; ``failing_polls`` makes the next polls answer HTTP 503. Every request's path
and ``Authorization`` header is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:
    from tests.openai_server import Reply, Responder
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import Reply, Responder

Outcome = Callable[[dict[str, Any]], str]


def chat_body(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    prompt_words = sum(len(m["content"].split()) for m in request["messages"])
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": request.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(str(reply.content).split())},
    }


class _Handler(BaseHTTPRequestHandler):
    server: BatchServer  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.record("POST", self.path, self.headers.get("Authorization"))
        path = self.path.split("?")[0].rstrip("/")
        if path == "/v1/chat/completions":
            request = json.loads(body)
            with self.server.lock:
                self.server.chat_requests.append(request)
            reply = self.server.responder(request)
            if reply.status != 200:
                self._json(reply.status, {"error": {"message": "injected"}})
            else:
                self._json(200, chat_body(request, reply))
        elif path == "/v1/files":
            self._json(200, self.server.upload(self.headers["Content-Type"], body))
        elif path == "/v1/batches":
            self._json(200, self.server.create_batch(json.loads(body)))
        else:
            self._json(404, {"error": {"message": f"no route {path}"}})

    def do_GET(self) -> None:  # noqa: N802
        self.server.record("GET", self.path, self.headers.get("Authorization"))
        path = self.path.split("?")[0].rstrip("/")
        parts = path.split("/")
        if path == "/v1/batches":
            with self.server.lock:
                data = list(reversed(self.server.batches.values()))  # newest first, as the API lists them
            self._json(200, {"object": "list", "data": data, "has_more": False})
        elif len(parts) == 4 and parts[2] == "batches":
            with self.server.lock:
                fail = self.server.failing_polls > 0
                self.server.failing_polls -= fail
            if fail:
                self._json(503, {"error": {"message": "injected outage"}})
                return
            batch = self.server.poll(parts[3], self.headers.get("Authorization"))
            self._json(200 if batch else 404, batch or {"error": {"message": "no such batch"}})
        elif len(parts) == 5 and parts[2] == "files" and parts[4] == "content":
            content = self.server.files.get(parts[3])
            if content is None:
                self._json(404, {"error": {"message": "no such file"}})
            else:
                self._send(200, content, "application/octet-stream")
        else:
            self._json(404, {"error": {"message": f"no route {path}"}})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class BatchServer(ThreadingHTTPServer):
    """Use as a context manager; ``base_url`` is ``http://127.0.0.1:<port>/v1``."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, responder: Responder, outcome: Outcome = lambda batch: "completed") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.responder = responder
        self.outcome = outcome
        self.lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_inputs: dict[str, list[dict[str, Any]]] = {}  # batch id -> its input lines
        self.chat_requests: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.failing_polls = 0  # the next this many GET /v1/batches/{id} answer HTTP 503
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> BatchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()

    def record(self, method: str, path: str, auth: str | None) -> None:
        with self.lock:
            self.calls.append((method, path, auth))

    def _add_file(self, content: bytes) -> str:
        with self.lock:
            file_id = f"file-{len(self.files):04d}"
            self.files[file_id] = content
        return file_id

    def upload(self, content_type: str, body: bytes) -> dict[str, Any]:
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        assert fields["purpose"].get_content() == "batch"
        content = fields["file"].get_payload(decode=True)
        file_id = self._add_file(content)
        return {"id": file_id, "object": "file", "bytes": len(content), "purpose": "batch", "created_at": 0}

    def create_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        lines = [json.loads(line) for line in self.files[request["input_file_id"]].decode().splitlines() if line]
        assert all(line["url"] == request["endpoint"] == "/v1/chat/completions" for line in lines)
        with self.lock:
            batch_id = f"batch_{len(self.batches):04d}"
            batch = {
                "id": batch_id,
                "object": "batch",
                "endpoint": request["endpoint"],
                "input_file_id": request["input_file_id"],
                "completion_window": request["completion_window"],
                "status": "validating",
                "created_at": int(time.time()),
                "metadata": request.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "output_file_id": None,
                "error_file_id": None,
                "errors": None,
            }
            self.batches[batch_id] = batch
            self.batch_inputs[batch_id] = lines
            return dict(batch)

    def poll(self, batch_id: str, auth: str | None = None) -> dict[str, Any] | None:
        with self.lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return None
            if batch["status"] == "validating":
                batch["status"] = "in_progress"
                return dict(batch)
            if batch["status"] != "in_progress":
                return dict(batch)
            lines = self.batch_inputs[batch_id]
        outcome = self.outcome(dict(batch))
        answered = {"completed": lines, "expired": lines[: len(lines) // 2]}.get(outcome, [])
        output, errors = [], []
        for line in answered:
            reply = self.responder(line["body"])
            row = {"id": f"req_{line['custom_id']}", "custom_id": line["custom_id"]}
            if reply.status == 200:
                row.update(response={"status_code": 200, "body": chat_body(line["body"], reply)}, error=None)
                output.append(row)
            else:
                row.update(response={"status_code": reply.status, "body": {"error": {"message": "injected"}}})
                errors.append(row)
        update: dict[str, Any] = {"status": outcome}
        if output:
            update["output_file_id"] = self._add_file("".join(json.dumps(r) + "\n" for r in output).encode())
        if errors:
            update["error_file_id"] = self._add_file("".join(json.dumps(r) + "\n" for r in errors).encode())
        if outcome == "failed":
            update["errors"] = {"object": "list", "data": [{"code": "injected", "message": f"planned, {auth}"}]}
        update["request_counts"] = {"total": len(lines), "completed": len(output), "failed": len(errors)}
        with self.lock:
            batch.update(update)
            return dict(batch)

    def batches_of(self, custom_id: str) -> list[str]:
        """Ids of every batch whose input held ``custom_id``."""
        return [b for b, lines in self.batch_inputs.items() if any(x["custom_id"] == custom_id for x in lines)]
