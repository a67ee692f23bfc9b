"""Requests through the OpenAI Batch API, resumable from a status file, merged into the executor's results file.

The Tülu 3 release judged its preference data this way: 10,000-row shards, each a Batch job, tracked in a status
file. The ``openai`` client does the HTTP (uploads, retries, rate limits, timeouts); what is ours, because no
maintained library does it:

- sharding: the unfinished items, in input order, cut into shards of at most ``shard_size`` rows;
- the status file (``<results>.batch.json``, replaced atomically after every step): per shard its item ids and its
  jobs (input file id, batch id, last status, whether its output was merged). A run killed at any moment resumes from
  it without submitting anything twice: a job with a batch id is polled, not resubmitted; a job killed between the
  upload and the status write is found again by its input file id (``GET /v1/batches``) before a new one is made;
- merging: each output line becomes one record ``{"id", "input", "output"}`` of the executor's results file (the
  same file, the same record, as the synchronous path), so what runs after cannot tell the two apart;
- a job that comes back ``failed``, ``expired`` or ``cancelled`` keeps whatever rows it finished (an expired job
  may have an output file); the shard's missing rows (also rows with an HTTP error or unusable output) go into a
  new job, up to ``max_attempts`` jobs per shard and run. Then the rows are logged to ``<results>.failed.jsonl``
  with the shard's batch ids and the run goes on; the next run tries them again;
- tokens from each row's ``usage``, and their cost at the configured per-million-token prices.
Nothing written holds a secret: records and the status file pass through `scrub_values`, errors through
`scrub_error`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tulu_recipes.config import RecipeError
from tulu_recipes.secrets import scrub_error, scrub_values

from .backends import Completion, GenerationError, TransientError, parse_chat_response, translate_errors
from .executor import RunSummary, _Appender, failures_path, item_id, read_records, repair_jsonl

logger = logging.getLogger(__name__)

ENDPOINT = "/v1/chat/completions"
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
# Rounds in a row where a Batch API call still failed after the client's own retries; the status file keeps the run.
MAX_FAILING_ROUNDS = 10


@dataclass
class BatchConfig:
    """How to run requests through the Batch API (the recipe's ``judge_batch`` mapping)."""

    shard_size: int = field(
        default=10000, metadata={"help": "Rows per Batch job (the Tülu 3 release judged in 10,000-row shards)."}
    )
    poll_interval: float = field(default=60.0, metadata={"help": "Seconds between two polls of the running jobs."})
    max_attempts: int = field(
        default=3,
        metadata={
            "help": "Batch jobs per shard and run: rows of a failed or expired job, and rows that came back with an "
            "error or unusable output, are resubmitted until this many jobs ran; then they are reported by batch id."
        },
    )
    completion_window: str = field(default="24h", metadata={"help": "The Batch API's completion window."})
    input_cost_per_mtok: float = field(
        default=1.25, metadata={"help": "USD per million prompt tokens (gpt-4o-2024-08-06 through the Batch API)."}
    )
    output_cost_per_mtok: float = field(
        default=5.0, metadata={"help": "USD per million completion tokens (gpt-4o-2024-08-06 through the Batch API)."}
    )
    status_path: str | None = field(
        default=None, metadata={"help": "Status file for resuming (default: <results file>.batch.json)."}
    )

    @classmethod
    def from_dict(cls, values: dict[str, Any] | BatchConfig, where: str = "judge_batch") -> BatchConfig:
        """A config from a recipe mapping: unknown keys and impossible values stop the run in one line."""
        if isinstance(values, BatchConfig):
            return values
        if not isinstance(values, dict):
            raise RecipeError(f"{where} must be a mapping of {sorted(f.name for f in fields(cls))}, not {values!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise RecipeError(f"unknown key(s) {unknown} in {where}; known: {sorted(known)}")
        config = cls(**values)
        if not isinstance(config.shard_size, int) or config.shard_size < 1:
            raise RecipeError(f"{where}.shard_size must be a positive integer, not {config.shard_size!r}")
        if not isinstance(config.max_attempts, int) or config.max_attempts < 1:
            raise RecipeError(f"{where}.max_attempts must be a positive integer, not {config.max_attempts!r}")
        for name in ("poll_interval", "input_cost_per_mtok", "output_cost_per_mtok"):
            value = getattr(config, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise RecipeError(f"{where}.{name} must be a number >= 0, not {value!r}")
        return config


@dataclass
class BatchSummary(RunSummary):
    """A `RunSummary` (``retries`` = rows resubmitted in a later job) plus the Batch API's side of the run."""

    jobs: int = 0
    cost_usd: float = 0.0
    failed_batches: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{super().__str__()}; {self.jobs} batch jobs, ${self.cost_usd:.4f}"
        if self.failed_batches:
            text += f"; gave up on the rows of batches {', '.join(self.failed_batches)}"
        return text


class Status:
    """The status file: written to a temporary file, fsynced and renamed, so a kill leaves the old or the new one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"version": 1, "shards": []}
        if path.is_file():
            self.data = json.loads(path.read_text(encoding="utf-8"))

    @property
    def shards(self) -> list[dict[str, Any]]:
        return self.data["shards"]

    def save(self) -> None:
        _write_status(self.path, scrub_values(self.data))


def _write_status(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def status_path_for(output_path: str | Path, config: BatchConfig) -> Path:
    return Path(config.status_path) if config.status_path else Path(f"{output_path}.batch.json")


def run_batch(
    items: list[dict[str, Any]],
    request_body: Callable[[dict[str, Any]], dict[str, Any]],
    make_output: Callable[[dict[str, Any], Completion], dict[str, Any]],
    client: Any,
    output_path: str | Path,
    config: BatchConfig,
    *,
    desc: str = "batch",
    sleep: Callable[[float], None] = time.sleep,
) -> BatchSummary:
    """Run every unfinished item through Batch jobs; results go to ``output_path`` as `run_items` writes them.

    ``request_body(item)`` is a chat-completions body; ``make_output(item, completion)`` turns a row's answer into
    the record's output (raising `GenerationError`, e.g. `MalformedOutputError`, for an unusable one); ``client`` is
    an ``openai.OpenAI``.
    """
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    repair_jsonl(output_path)
    finished = {record["id"] for record in read_records(output_path)}
    by_id: dict[str, dict[str, Any]] = {}
    for item in items:
        by_id.setdefault(item_id(item), item)
    summary = BatchSummary(total=len(items), skipped=len(items) - len(by_id) + len(finished & set(by_id)))
    start = time.monotonic()
    status = Status(status_path_for(output_path, config))
    for shard in status.shards:
        if shard["state"] != "open":
            shard["state"] = "closed"  # a new run retries what earlier runs gave up on, with fresh attempts
    open_ids = {i for shard in status.shards if shard["state"] == "open" for i in shard["ids"]}
    todo = [key for key in by_id if key not in finished and key not in open_ids]
    for begin in range(0, len(todo), config.shard_size):
        status.shards.append(
            {"index": len(status.shards), "ids": todo[begin : begin + config.shard_size], "state": "open", "jobs": []}
        )
    status.save()
    run = _Run(by_id, finished, request_body, make_output, client, output_path, config, status, summary)
    failing_rounds = 0
    try:
        while True:
            waiting, errors = False, []
            for shard in status.shards:
                if shard["state"] == "open":
                    try:
                        waiting |= run.step(shard)
                    except TransientError as err:  # the client's retries are spent: try again next round
                        errors.append(str(err))
                        waiting = True
            if not any(shard["state"] == "open" for shard in status.shards):
                break
            failing_rounds = failing_rounds + 1 if errors else 0
            if errors:
                logger.warning(
                    "%s: %d Batch API calls failed (%s); next poll in %ss",
                    desc,
                    len(errors),
                    errors[0],
                    config.poll_interval,
                )
            if failing_rounds > MAX_FAILING_ROUNDS:
                raise TransientError(f"the Batch API failed {failing_rounds} rounds in a row: {errors[0]}")
            if waiting:
                sleep(config.poll_interval)
    finally:
        run.close()
    summary.cost_usd = (
        summary.prompt_tokens * config.input_cost_per_mtok + summary.completion_tokens * config.output_cost_per_mtok
    ) / 1e6
    summary.seconds = time.monotonic() - start
    logger.info("%s: %s", desc, summary)
    return summary


class _Run:
    """One run's state: what is finished, the open results and failures files, the counters."""

    def __init__(
        self,
        by_id: dict[str, dict[str, Any]],
        finished: set[str],
        request_body: Callable[[dict[str, Any]], dict[str, Any]],
        make_output: Callable[[dict[str, Any], Completion], dict[str, Any]],
        client: Any,
        output_path: Path,
        config: BatchConfig,
        status: Status,
        summary: BatchSummary,
    ) -> None:
        self.by_id, self.finished = by_id, finished
        self.request_body, self.make_output = request_body, make_output
        self.client, self.config, self.status, self.summary = client, config, status, summary
        self.output_path = output_path
        self.results = _Appender(output_path)
        self.failures = _Appender(failures_path(output_path), mode="w")
        self.row_errors: dict[str, str] = {}

    def close(self) -> None:
        self.results.close()
        self.failures.close()

    def remaining(self, shard: dict[str, Any]) -> list[str]:
        return [key for key in shard["ids"] if key in self.by_id and key not in self.finished]

    def step(self, shard: dict[str, Any]) -> bool:
        """Advance one shard by one step; True when it waits on a running job."""
        job = shard["jobs"][-1] if shard["jobs"] else None
        if job is None or job["collected"]:
            rows = self.remaining(shard)
            if not rows:
                shard["state"] = "done"
            elif len(shard["jobs"]) >= self.config.max_attempts:
                self.give_up(shard, rows)
            else:
                self.summary.retries += len(rows) if shard["jobs"] else 0
                self.submit(shard, rows)
                return True
            self.status.save()
            return False
        if job["batch_id"] is None:  # killed between the upload and saving the batch id
            self.create(shard, job, look_up=True)
            return True
        with translate_errors():
            batch = self.client.batches.retrieve(job["batch_id"])
        job["status"] = batch.status
        if batch.status not in TERMINAL:
            return True
        self.collect(job, batch)
        job["collected"] = True
        self.status.save()
        return False

    def submit(self, shard: dict[str, Any], rows: list[str]) -> None:
        lines = [
            json.dumps(
                {"custom_id": key, "method": "POST", "url": ENDPOINT, "body": self.request_body(self.by_id[key])},
                ensure_ascii=False,
            )
            for key in rows
        ]
        name = f"{self.output_path.name}.shard{shard['index']:05d}.job{len(shard['jobs'])}.jsonl"
        with translate_errors():
            uploaded = self.client.files.create(file=(name, "\n".join(lines).encode() + b"\n"), purpose="batch")
        job = {"file_id": uploaded.id, "batch_id": None, "rows": len(rows), "status": "uploaded", "collected": False}
        shard["jobs"].append(job)
        self.status.save()
        self.create(shard, job, look_up=False)

    def create(self, shard: dict[str, Any], job: dict[str, Any], look_up: bool) -> None:
        batch = self.find_batch(job["file_id"]) if look_up else None
        if batch is None:
            with translate_errors():
                batch = self.client.batches.create(
                    input_file_id=job["file_id"],
                    endpoint=ENDPOINT,
                    completion_window=self.config.completion_window,
                    metadata={"shard": str(shard["index"]), "job": str(len(shard["jobs"]) - 1)},
                )
            self.summary.jobs += 1
        else:
            logger.info("shard %d: found batch %s of file %s again", shard["index"], batch.id, job["file_id"])
        job["batch_id"], job["status"] = batch.id, batch.status
        self.status.save()

    def find_batch(self, file_id: str) -> Any | None:
        """The batch made from ``file_id``, if one was (its id may not have reached the status file)."""
        with translate_errors():
            for batch in self.client.batches.list(limit=100):
                if batch.input_file_id == file_id:
                    return batch
        return None

    def download(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        with translate_errors():
            text = self.client.files.content(file_id).text
        rows = []
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("file %s: skipping an unparsable line", file_id)
        return rows

    def collect(self, job: dict[str, Any], batch: Any) -> None:
        """Merge a finished job's rows into the results file; remember why the others failed."""
        if batch.status != "completed":
            reasons = [f"{e.code}: {e.message}" for e in (batch.errors.data or [])] if batch.errors else []
            job["error"] = scrub_error(
                f"batch {batch.id} {batch.status}" + (f" ({'; '.join(reasons)})" if reasons else "")
            )
            logger.warning("%s", job["error"])
        for row in self.download(batch.output_file_id) + self.download(batch.error_file_id):
            key = row.get("custom_id")
            if key not in self.by_id or key in self.finished:
                continue
            response = row.get("response") or {}
            if response.get("status_code") != 200:
                detail = row.get("error") or response.get("body")
                self.row_errors[key] = scrub_error(f"HTTP {response.get('status_code')}: {json.dumps(detail)[:300]}")
                continue
            try:
                completion = parse_chat_response(response.get("body"))
                output = self.make_output(self.by_id[key], completion)
            except GenerationError as err:
                self.row_errors[key] = scrub_error(repr(err))
                continue
            self.results.write({"id": key, "input": self.by_id[key], "output": output})
            self.finished.add(key)
            self.summary.done += 1
            self.summary.prompt_tokens += completion.prompt_tokens
            self.summary.completion_tokens += completion.completion_tokens

    def give_up(self, shard: dict[str, Any], rows: list[str]) -> None:
        batches = [job["batch_id"] for job in shard["jobs"] if job["batch_id"]]
        shard["state"] = "gave_up"
        default = shard["jobs"][-1].get("error") or f"batch {batches[-1]}: no answer for this row"
        for key in rows:
            error = self.row_errors.get(key, default)
            self.failures.write(
                {"id": key, "input": self.by_id[key], "error": error, "retries": len(batches) - 1, "batches": batches}
            )
        self.summary.failed += len(rows)
        self.summary.failed_batches.extend(batches)
        logger.warning(
            "shard %d: %d rows unanswered after %d batch jobs (%s); they are in %s",
            shard["index"],
            len(rows),
            len(batches),
            ", ".join(batches),
            failures_path(self.output_path),
        )
