"""The judge through the OpenAI Batch API, against a loopback server implementing the Batch endpoints."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tulu_recipes.config import run_cli
from tulu_recipes.generation import batch as batch_module
from tulu_recipes.generation.backends import Completion, ModelSpec, OpenAIBackend, TransientError
from tulu_recipes.generation.batch import BatchConfig, run_batch
from tulu_recipes.generation.executor import failures_path, read_records
from tulu_recipes.generation.preferences import PreferencesConfig, generate_preferences, main

try:
    from tests.openai_batch_server import BatchServer
    from tests.openai_server import Reply, last_user_text
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_batch_server import BatchServer
    from openai_server import Reply, last_user_text

REPO = Path(__file__).resolve().parents[1]
# The pipeline in a child process (the CLI's recipe parsing would import torch: seconds per start on CI).
CHILD = (
    "import sys, yaml; from tulu_recipes.generation.preferences import PreferencesConfig, generate_preferences; "
    "print(generate_preferences(PreferencesConfig(**yaml.safe_load(open(sys.argv[1]))))['judge'])"
)
QUALITY = {"pool-a": 5, "pool-b": 2, "pool-c": 3}
KEY = "sk-planted-batch-judge-key-0123456789"


def answer(request: dict) -> Reply:
    """Pool models answer "<model> says: ..."; the judge rates by the model whose answer it reads."""
    text = last_user_text(request)
    if request["model"] == "judge":
        model = next(m for m in QUALITY if f"{m} says" in text)
        return Reply(content=f"Judging.\nRating: {QUALITY[model]}")
    return Reply(content=f"{request['model']} says: answer to {text}")


def write_prompts(folder: Path) -> Path:
    path = folder / "prompts.jsonl"
    path.write_text("".join(json.dumps({"messages": f"question {i}"}) + "\n" for i in range(4)))
    return path


def preferences(folder: Path, url: str, judge_batch: dict | None = None, **spec: object) -> PreferencesConfig:
    """4 prompts x 3 pool models x 2 aspects = 24 judge items."""
    folder.mkdir(parents=True, exist_ok=True)
    model = {"base_url": url, "max_retries": 0, **spec}
    return PreferencesConfig(
        prompts=str(write_prompts(folder)),
        output_path=str(folder / "prefs.jsonl"),
        models=[{"name": name, **model} for name in QUALITY],
        judge_model={"name": "judge", **model},
        models_per_prompt=3,
        aspects=["helpfulness", "honesty"],
        max_retries=0,
        progress=False,
        seed=5,
        judge_batch=judge_batch,
    )


def judge_bodies(server: BatchServer) -> list[str]:
    chat = [r for r in server.chat_requests if r["model"] == "judge"]
    batched = [line["body"] for lines in server.batch_inputs.values() for line in lines]
    return sorted(json.dumps(body, sort_keys=True) for body in chat + batched)


def test_batch_judge_writes_the_same_pairs_as_the_synchronous_judge(tmp_path: Path) -> None:
    with BatchServer(answer) as sync_server:
        sync = generate_preferences(preferences(tmp_path / "sync", sync_server.base_url))
    batch_config = {"shard_size": 5, "poll_interval": 0, "input_cost_per_mtok": 2.0, "output_cost_per_mtok": 8.0}
    (tmp_path / "batch").mkdir()
    # The same completions (their cache order decides the seeded pick of rejected): only the judge differs.
    shutil.copy(tmp_path / "sync" / "prefs.jsonl.completions.jsonl", tmp_path / "batch")
    with BatchServer(answer) as server:
        batched = generate_preferences(preferences(tmp_path / "batch", server.base_url, batch_config))

    pairs = (tmp_path / "sync" / "prefs.jsonl").read_bytes()
    assert (tmp_path / "batch" / "prefs.jsonl").read_bytes() == pairs
    rows = [json.loads(line) for line in pairs.splitlines()]
    assert [(r["chosen_model"], r["chosen_rating"]) for r in rows] == [("pool-a", 5.0)] * 4
    assert {r["rejected_model"] for r in rows} <= {"pool-b", "pool-c"}
    # The same 24 requests, byte for byte: synchronously as chat requests, batched in 5 jobs of at most 5 rows.
    assert judge_bodies(server) == judge_bodies(sync_server) and len(judge_bodies(server)) == 24
    assert not [r for r in server.chat_requests if r["model"] == "judge"]
    assert [len(lines) for lines in server.batch_inputs.values()] == [5, 5, 5, 5, 4]
    sync_cache = (tmp_path / "sync" / "prefs.jsonl.judgments.jsonl").read_text().splitlines()
    batch_cache = (tmp_path / "batch" / "prefs.jsonl.judgments.jsonl").read_text().splitlines()
    assert sorted(batch_cache) == sorted(sync_cache)

    judged = batched["judge"]
    assert (judged.done, judged.failed, judged.skipped, judged.jobs, judged.retries) == (24, 0, 0, 5, 0)
    assert judged.completion_tokens == 24 * 3  # "Judging. Rating: n" is three words
    assert judged.prompt_tokens == sync["judge"].prompt_tokens > 24 * 100
    assert judged.cost_usd == pytest.approx((judged.prompt_tokens * 2.0 + 72 * 8.0) / 1e6)
    assert "5 batch jobs, $" in str(judged)
    status = json.loads((tmp_path / "batch" / "prefs.jsonl.judgments.jsonl.batch.json").read_text())
    assert [s["state"] for s in status["shards"]] == ["done"] * 5
    assert [j["batch_id"] for s in status["shards"] for j in s["jobs"]] == sorted(server.batches)


class Killed(BaseException):
    """A kill -9 at a chosen status write: nothing after it runs, no handler can catch it."""


def test_kill_at_any_status_write_then_resume_submits_nothing_twice(tmp_path: Path, monkeypatch) -> None:
    """Kill the run just before each of its status writes in turn (after an upload, after a batch was created,
    after a job's rows were merged...); the resumed run finishes with the same pairs, and every row was in exactly
    one batch job: a batch whose id never reached the status file is found again by its input file."""
    judge_batch = {"shard_size": 12, "poll_interval": 0}
    with BatchServer(answer) as server:
        reference = generate_preferences(preferences(tmp_path / "ref", server.base_url, judge_batch))
    pairs = (tmp_path / "ref" / "prefs.jsonl").read_bytes()
    completions = tmp_path / "ref" / "prefs.jsonl.completions.jsonl"
    writes = 1 + 2 * 4  # the shard list, then per shard: uploaded, created, merged, done
    assert reference["judge"].jobs == 2

    real_write = batch_module._write_status
    for kill_at in range(1, writes + 1):
        folder = tmp_path / f"kill{kill_at}"
        folder.mkdir()
        shutil.copy(completions, folder / completions.name)  # only the judge stage runs
        calls = {"n": 0}

        def write(path: Path, data: dict, kill_at: int = kill_at, calls: dict = calls) -> None:
            calls["n"] += 1
            if calls["n"] == kill_at:
                raise Killed
            real_write(path, data)

        with BatchServer(answer) as server:
            config = preferences(folder, server.base_url, judge_batch)
            monkeypatch.setattr(batch_module, "_write_status", write)
            with pytest.raises(Killed):
                generate_preferences(config)
            monkeypatch.setattr(batch_module, "_write_status", real_write)
            resumed = generate_preferences(config)
        assert (folder / "prefs.jsonl").read_bytes() == pairs, kill_at
        ids = [r["id"] for r in read_records(folder / "prefs.jsonl.judgments.jsonl")]
        lines = (folder / "prefs.jsonl.judgments.jsonl").read_text().splitlines()
        assert len(lines) == len(set(ids)) == 24, kill_at
        assert all(len(server.batches_of(key)) == 1 for key in ids), kill_at
        assert len(server.batches) == 2 and resumed["judge"].failed == 0, kill_at
        assert resumed["judge"].jobs == (2 if kill_at <= 2 else 1 if kill_at <= 4 else 0), kill_at


def test_sigkill_while_jobs_run_then_resume_polls_them_instead_of_submitting_again(tmp_path: Path) -> None:
    """A real kill -9 of the pipeline while its 3 jobs are running; the restarted command polls those 3 jobs and merges
    their results: no 4th job, each row judged once, the pairs of a synchronous judge over the same completions."""
    hold = {"on": True}
    with BatchServer(answer, lambda batch: "in_progress" if hold["on"] else "completed") as server:
        config = preferences(tmp_path / "run", server.base_url, {"shard_size": 10, "poll_interval": 0.05})
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(yaml.safe_dump({k: v for k, v in vars(config).items() if v is not None}))
        status = tmp_path / "run" / "prefs.jsonl.judgments.jsonl.batch.json"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-c", CHILD, str(recipe)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while len(server.batches) < 3 or sum(1 for _, path, _ in server.calls if path.startswith("/v1/batches/")) < 6:
            assert proc.poll() is None
            time.sleep(0.02)  # every job created and polled at least twice
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        saved = json.loads(status.read_text())
        assert [len(s["jobs"]) for s in saved["shards"]] == [1, 1, 1]
        hold["on"] = False
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert (
            result.stdout.startswith("24 done, 0 failed, 0 skipped of 24 items") and "; 0 batch jobs" in result.stdout
        )
        (tmp_path / "sync").mkdir()
        shutil.copy(tmp_path / "run" / "prefs.jsonl.completions.jsonl", tmp_path / "sync")
        generate_preferences(preferences(tmp_path / "sync", server.base_url))
    assert len(server.batches) == 3
    ids = [r["id"] for r in read_records(tmp_path / "run" / "prefs.jsonl.judgments.jsonl")]
    assert len(ids) == len(set(ids)) == 24 and all(len(server.batches_of(key)) == 1 for key in ids)
    assert (tmp_path / "run" / "prefs.jsonl").read_bytes() == (tmp_path / "sync" / "prefs.jsonl").read_bytes()


def test_failed_and_expired_jobs_are_retried_up_to_the_bound_then_reported_by_id(tmp_path: Path) -> None:
    """Shard 0: its first job fails, its second expires with 1 of 3 rows answered, its third completes. Shard 1:
    every job fails; after max_attempts=3 its rows are logged with the three batch ids. A later run answers them."""
    plan = {"0": ["failed", "expired", "completed"], "1": ["failed", "failed", "failed"]}

    def outcome(batch: dict) -> str:
        return plan.get(batch["metadata"]["shard"], ["completed"])[int(batch["metadata"]["job"])]

    items = [{"q": f"q{i}"} for i in range(6)]
    out = tmp_path / "results.jsonl"
    config = BatchConfig(shard_size=3, poll_interval=0, max_attempts=3)
    with BatchServer(lambda body: Reply(content=f"re: {last_user_text(body)}"), outcome) as server:
        backend = OpenAIBackend(ModelSpec(name="judge", base_url=server.base_url, max_retries=0))

        def body(item: dict) -> dict:
            return backend.request_body([{"role": "user", "content": item["q"]}])

        def output(item: dict, completion: Completion) -> dict:
            return {"text": completion.text}

        summary = run_batch(items, body, output, backend.client, out, config, sleep=lambda s: None)
        shard1 = [b["id"] for b in server.batches.values() if b["metadata"]["shard"] == "1"]
        assert (summary.done, summary.failed, summary.jobs, summary.retries) == (3, 3, 6, 3 + 2 + 3 + 3)
        assert summary.failed_batches == shard1 and len(shard1) == 3
        assert f"gave up on the rows of batches {', '.join(shard1)}" in str(summary)
        assert {r["input"]["q"]: r["output"]["text"] for r in read_records(out)} == {
            f"q{i}": f"re: q{i}" for i in range(3)
        }
        failed = [json.loads(line) for line in failures_path(out).read_text().splitlines()]
        assert [(f["input"]["q"], f["batches"], f["retries"]) for f in failed] == [
            (f"q{i}", shard1, 2) for i in (3, 4, 5)
        ]
        assert all(f["error"].startswith(f"batch {shard1[-1]} failed (injected: planned") for f in failed)
        rows = {b: [x["custom_id"] for x in lines] for b, lines in server.batch_inputs.items()}
        assert [len(rows[b["id"]]) for b in server.batches.values() if b["metadata"]["shard"] == "0"] == [3, 3, 2]

        plan["1"] = ["completed"] * 3  # (the next run puts shard 1's rows into a new shard 2)
        again = run_batch(items, body, output, backend.client, out, config, sleep=lambda s: None)
    assert (again.done, again.failed, again.skipped, again.jobs) == (3, 0, 3, 1)
    assert len(read_records(out)) == len(out.read_text().splitlines()) == 6
    assert failures_path(out).read_text() == ""


def test_polls_that_fail_after_the_clients_retries_are_retried_next_round_within_a_bound(tmp_path: Path) -> None:
    items = [{"q": f"q{i}"} for i in range(4)]
    out = tmp_path / "results.jsonl"
    slept: list[float] = []
    with BatchServer(lambda body: Reply(content=f"re: {last_user_text(body)}")) as server:
        backend = OpenAIBackend(ModelSpec(name="judge", base_url=server.base_url, max_retries=0))

        def body(item: dict) -> dict:
            return backend.request_body([{"role": "user", "content": item["q"]}])

        def run() -> object:
            config = BatchConfig(shard_size=4, poll_interval=7)
            return run_batch(
                items, body, lambda item, c: {"text": c.text}, backend.client, out, config, sleep=slept.append
            )

        server.failing_polls = 3
        summary = run()
        assert (summary.done, summary.jobs) == (4, 1)
        assert slept == [7] * 5  # after the upload, 3 rounds of 503, one in_progress; the next poll: completed
        assert len(server.batches) == 1

        out.unlink()
        server.failing_polls = 1000
        with pytest.raises(TransientError, match="failed 11 rounds in a row: HTTP 503"):
            run()
    assert json.loads((tmp_path / "results.jsonl.batch.json").read_text())["shards"][-1]["jobs"][0]["batch_id"]


def test_no_key_in_any_file_or_log_of_a_batch_run(tmp_path: Path, monkeypatch, caplog) -> None:
    """The key's variable name does not say "key"; the server quotes the Authorization header in every judgment and
    in a failed job's error. Nothing written, nor the log, holds the key; every Batch call carried it."""
    monkeypatch.setenv("TULU_BATCH_TEST_LLM", KEY)
    caplog.set_level(logging.DEBUG)
    server_ref: list[BatchServer] = []

    def quoting(request: dict) -> Reply:
        reply = answer(request)
        return Reply(content=f"{reply.content}\nYour header: {server_ref[0].calls[-1][2]}")

    jobs = {"n": 0}

    def outcome(batch: dict) -> str:
        jobs["n"] += 1
        return "failed" if jobs["n"] == 1 else "completed"

    with BatchServer(quoting, outcome) as server:
        server_ref.append(server)
        config = preferences(
            tmp_path, server.base_url, {"shard_size": 30, "poll_interval": 0}, api_key_env="TULU_BATCH_TEST_LLM"
        )
        stats = generate_preferences(config)
    assert stats["pairs"] == 4 and stats["judge"].jobs == 2
    assert {auth for _, _, auth in server.calls} == {f"Bearer {KEY}"}
    assert {path.split("/")[2].split("?")[0] for _, path, _ in server.calls} == {"chat", "files", "batches"}
    written = {p.name: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    assert "prefs.jsonl.judgments.jsonl.batch.json" in written
    assert [name for name, text in written.items() if KEY in text] == []
    assert KEY not in caplog.text
    assert "Your header: Bearer <redacted>" in written["prefs.jsonl.judgments.jsonl"]
    status = json.loads(written["prefs.jsonl.judgments.jsonl.batch.json"])
    assert status["shards"][0]["jobs"][0]["error"] == "batch batch_0000 failed (injected: planned, Bearer <redacted>)"


@pytest.mark.parametrize(
    ("judge_batch", "judge", "message"),
    [
        ({"shard_sise": 10}, {}, "error: unknown key(s) ['shard_sise'] in judge_batch; known: "),
        ({"shard_size": 0}, {}, "error: judge_batch.shard_size must be a positive integer, not 0"),
        ({"max_attempts": "3"}, {}, "error: judge_batch.max_attempts must be a positive integer, not '3'"),
        ({}, {"backend": "transformers"}, "error: judge_batch needs judge_model on the openai backend"),
    ],
)
def test_bad_batch_settings_stop_in_one_line_before_any_request(tmp_path, capsys, judge_batch, judge, message):
    with BatchServer(answer) as server:
        config = preferences(tmp_path, server.base_url, judge_batch)
        recipe = {k: v for k, v in vars(config).items() if v is not None}
        recipe["judge_model"] = {**recipe["judge_model"], **judge}
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe))
        with pytest.raises(SystemExit) as info:
            run_cli(main, [str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)
    assert server.calls == []
