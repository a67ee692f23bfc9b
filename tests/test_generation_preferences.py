"""Preference pipeline: judge parsing, pair building, and a full judged run on a loopback server."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from pathlib import Path

import pytest

from tulu_recipes.generation.backends import MalformedOutputError
from tulu_recipes.generation.judge import judge_messages, parse_rating, render_instruction
from tulu_recipes.generation.pairs import build_preference_pair
from tulu_recipes.generation.preferences import PreferencesConfig, generate_preferences, load_prompts

try:
    from tests.openai_server import ChatServer, Reply, last_user_text
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply, last_user_text


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("The answer is fine.\nRating: 4", 4.0),
        ("**Rating:** 5", 5.0),
        ("Rationale: Rating: 2 at first... on reflection\nRating: [[3]]", 3.0),
        ("rating = 2/5", 2.0),
        ('{"rationale": "ok", "rating": 1}', 1.0),
        ("Score: n/a\nRating: 4.5", 4.5),
        ("  3  ", 3.0),
    ],
)
def test_parse_rating_accepts_variants(text: str, rating: float) -> None:
    assert parse_rating(text) == rating


@pytest.mark.parametrize(
    "text", ["It is good.", "Rating: 0", "Rating: 6", "Rating: 45", "Ratings vary", "", "Rating: N/A"]
)
def test_parse_rating_rejects_garbage(text: str) -> None:
    with pytest.raises(MalformedOutputError):
        parse_rating(text)


def test_na_is_missing_only_where_allowed() -> None:
    assert parse_rating("Creative writing.\nRating: N/A", allow_na=True) is None
    with pytest.raises(MalformedOutputError):
        parse_rating("Rating: N/A", allow_na=False)


def test_judge_prompt_per_aspect() -> None:
    prompt = [{"role": "system", "content": "S"}, {"role": "user", "content": "Name a prime."}]
    assert render_instruction(prompt) == "Name a prime."
    multi = [*prompt, {"role": "assistant", "content": "2"}, {"role": "user", "content": "Another?"}]
    assert render_instruction(multi).endswith("Assistant: 2\n\nUser: Another?")
    texts = {a: judge_messages(a, prompt, "7")[0]["content"] for a in ("helpfulness", "honesty")}
    assert "HELPFULNESS" in texts["helpfulness"] and "HONESTY" in texts["honesty"]
    assert all("Name a prime." in t and "### Response\n7\n" in t for t in texts.values())
    with pytest.raises(ValueError):
        judge_messages("style", prompt, "7")


PROMPT = [{"role": "user", "content": "2+2?"}]


def cands(*scores: float | None) -> list[dict]:
    return [{"text": f"t{i}", "model": f"m{i}", "score": s} for i, s in enumerate(scores)]


def test_pair_takes_best_and_a_strictly_lower_one() -> None:
    pair = build_preference_pair(PROMPT, cands(2.0, 4.5, None, 3.0), random.Random(0))
    assert pair is not None
    assert pair["chosen"] == [*PROMPT, {"role": "assistant", "content": "t1"}]
    assert pair["chosen_rating"] == 4.5 and pair["chosen_model"] == "m1"
    assert pair["rejected_model"] in {"m0", "m3"} and pair["rejected_rating"] < 4.5
    assert pair["rejected"][:-1] == PROMPT
    assert set(pair) == {"chosen", "rejected", "chosen_rating", "rejected_rating", "chosen_model", "rejected_model"}


def test_pair_excludes_ties_and_needs_two_scored() -> None:
    assert build_preference_pair(PROMPT, cands(3.0, 3.0, 3.0), random.Random(0)) is None
    assert build_preference_pair(PROMPT, cands(5.0, None, None), random.Random(0)) is None
    assert build_preference_pair(PROMPT, [], random.Random(0)) is None
    for seed in range(50):  # the other best is never the rejected one
        pair = build_preference_pair(PROMPT, cands(5.0, 5.0, 1.0), random.Random(seed))
        assert pair["rejected_model"] == "m2" and pair["chosen_model"] in {"m0", "m1"}
    assert build_preference_pair(PROMPT, cands(1.0, 0.0), random.Random(0))["chosen_model"] == "m0"  # verifier use
    assert build_preference_pair(PROMPT, cands(4.0, 3.5), random.Random(0), min_margin=1.0) is None


def test_pair_is_seeded_and_rejected_is_uniform() -> None:
    candidates = cands(5.0, 1.0, 2.0, 3.0, 5.0)
    picks = [build_preference_pair(PROMPT, candidates, random.Random(s)) for s in range(3000)]
    again = [build_preference_pair(PROMPT, candidates, random.Random(s)) for s in range(3000)]
    assert picks == again
    rejected = Counter(p["rejected_model"] for p in picks)
    chosen = Counter(p["chosen_model"] for p in picks)
    assert set(rejected) == {"m1", "m2", "m3"} and all(900 < n < 1100 for n in rejected.values())
    assert set(chosen) == {"m0", "m4"} and all(1350 < n < 1650 for n in chosen.values())
    assert candidates == cands(5.0, 1.0, 2.0, 3.0, 5.0)  # inputs untouched


QUALITY = {"pool-a": 5, "pool-b": 3, "pool-c": 2, "sft": 4}
ASPECT_WORDS = {
    "HELPFULNESS": "helpfulness",
    "INSTRUCTION FOLLOWING": "instruction_following",
    "HONESTY": "honesty",
    "TRUTHFULNESS": "truthfulness",
}


def make_responder() -> tuple[object, Counter]:
    """Pool models answer "<model> says ..."; the judge rates by model quality, with injected faults:
    pool-c's honesty is N/A; pool-b's helpfulness is garbage once, then fine; pool-a's truthfulness is garbage
    forever (so that rating goes missing); every 7th judge call first gets an HTTP 500."""
    calls: Counter = Counter()
    lock = threading.Lock()

    def respond(request: dict) -> Reply:
        text = last_user_text(request)
        if not text.startswith("You are grading"):
            return Reply(content=f"{request['model']} says: answer to {text}")
        aspect = next(v for k, v in ASPECT_WORDS.items() if f"for {k}:" in text)
        response = text.split("### Response\n", 1)[1]
        model = response.split(" says:", 1)[0]
        with lock:
            calls[(model, aspect, response)] += 1
            calls["judge"] += 1
            n, total = calls[(model, aspect, response)], calls["judge"]
        if total % 7 == 0 and n == 1:
            return Reply(status=500)
        if model == "pool-c" and aspect == "honesty":
            return Reply(content="This is creative.\nRating: N/A")
        if model == "pool-b" and aspect == "helpfulness" and n == 1:
            return Reply(content="I would say it is quite good overall.")
        if model == "pool-a" and aspect == "truthfulness":
            return Reply(content="Seems fine to me!")
        return Reply(content=f"Reasoning about {model}.\nRating: {QUALITY[model]}")

    return respond, calls


def test_preferences_end_to_end(tmp_path: Path) -> None:
    prompts_file = tmp_path / "prompts.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": "old"}]}
        for i in range(6)
    ]
    rows.append({"messages": "question 0"})  # duplicate of the first prompt, as a plain string
    prompts_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert len(load_prompts(str(prompts_file))) == 6

    responder, calls = make_responder()
    with ChatServer(responder) as server:

        def spec(name: str) -> dict:  # the executor's retries alone, so the request counts below are its own
            return {"name": name, "base_url": server.base_url, "max_retries": 0}

        config = PreferencesConfig(
            prompts=str(prompts_file),
            output_path=str(tmp_path / "prefs.jsonl"),
            models=[spec("pool-a"), spec("pool-b"), spec("pool-c")],
            models_per_prompt=2,
            on_policy_model=spec("sft"),
            judge_model=spec("judge"),
            max_retries=2,
            retry_base_delay=0.0,
            retry_max_delay=0.0,
            progress=False,
            seed=1,
        )
        stats = generate_preferences(config)
        judge_requests = [r for r in server.requests if r["model"] == "judge"]
        completion_requests = [r for r in server.requests if r["model"] != "judge"]

    assert stats["prompts"] == 6 and stats["complete"].done == 18  # 2 pool models + sft per prompt
    assert Counter(r["model"] for r in completion_requests)["sft"] == 6
    assert all(r["temperature"] == 0.0 for r in judge_requests)
    judged = stats["judge"]
    assert judged.total == 18 * 4
    n_pool_a = sum(r["model"] == "pool-a" for r in completion_requests)
    assert judged.failed == n_pool_a  # pool-a's truthfulness: 1 + 2 retries, then missing
    assert judged.done == 72 - n_pool_a

    pairs = [json.loads(line) for line in (tmp_path / "prefs.jsonl").read_text().splitlines()]
    assert len(pairs) == stats["pairs"] == 6  # qualities differ, so every prompt has a pair
    for pair in pairs:
        question = pair["chosen"][0]["content"]
        assert pair["chosen"][:-1] == [{"role": "user", "content": question}] == pair["rejected"][:-1]
        assert pair["chosen"][-1]["content"] == f"{pair['chosen_model']} says: answer to {question}"
        assert pair["rejected"][-1]["content"] == f"{pair['rejected_model']} says: answer to {question}"
        assert pair["chosen_rating"] == QUALITY[pair["chosen_model"]]  # mean of present ratings only
        assert pair["rejected_rating"] == QUALITY[pair["rejected_model"]] < pair["chosen_rating"]
    chosen = Counter(p["chosen_model"] for p in pairs)
    assert chosen["pool-a"] == n_pool_a and chosen["sft"] == 6 - n_pool_a
    # each aspect was its own judge call: per completion exactly the four rubrics were sent at least once
    rubric_hits = Counter(next(k for k in ASPECT_WORDS if f"for {k}:" in last_user_text(r)) for r in judge_requests)
    assert set(rubric_hits) == set(ASPECT_WORDS) and min(rubric_hits.values()) >= 18

    # Resuming with everything cached sends no request and writes the same pairs.
    with ChatServer(lambda request: Reply(status=500)) as dead:
        config.models = [{**m, "base_url": dead.base_url} for m in config.models]
        config.judge_model = {**config.judge_model, "base_url": dead.base_url}
        config.on_policy_model = {**config.on_policy_model, "base_url": dead.base_url}
        again = generate_preferences(config)
        assert len(dead.requests) == n_pool_a * 3  # only the missing truthfulness ratings are retried
    assert again["pairs"] == 6
    assert [json.loads(line) for line in (tmp_path / "prefs.jsonl").read_text().splitlines()] == pairs


def test_a_run_that_makes_nothing_exits_2_naming_the_endpoint_and_keeps_what_it_finished(tmp_path, capsys):
    """Endpoint down: one line, exit 2, naming the endpoint and the error (not exit 0 with 0 pairs). A judge that
    refuses every request after the completions finished: the same, and the completions stay cached."""
    import socket

    import yaml

    from tulu_recipes.config import run_cli
    from tulu_recipes.generation.preferences import main

    prompts_file = tmp_path / "prompts.jsonl"
    prompts_file.write_text("".join(json.dumps({"messages": f"question {i}"}) + "\n" for i in range(3)))
    with socket.socket() as sock:  # a port nobody listens on: connections are refused at once
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"

    def run(url: str, judge_url: str) -> str:
        recipe = {
            "prompts": str(prompts_file),
            "output_path": str(tmp_path / "prefs.jsonl"),
            "models": [{"name": "pool-a", "base_url": url}, {"name": "pool-b", "base_url": url}],
            "judge_model": {"name": "judge", "base_url": judge_url},
            "max_retries": 1,
            "retry_base_delay": 0.0,
            "retry_max_delay": 0.0,
            "progress": False,
        }
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe))
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            run_cli(main, [str(path)])
        assert exit_info.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        return lines[-1]

    line = run(dead, dead)
    assert line.startswith(f"error: complete: all 6 items failed; endpoint {dead}: ") and "refused" in line.lower()
    assert not (tmp_path / "prefs.jsonl").exists()

    def respond(request: dict) -> Reply:
        if request["model"] == "judge":
            return Reply(status=401)
        return Reply(content=f"{request['model']} answers")

    with ChatServer(respond) as server:
        line = run(server.base_url, server.base_url)
    assert line.startswith(f"error: judge: all 24 items failed; endpoint {server.base_url}: ") and "401" in line
    cached = (tmp_path / "prefs.jsonl.completions.jsonl").read_text().splitlines()
    assert len(cached) == 6  # the finished completions are kept for the next run
