"""Persona-IF preference pairs on the loopback server, checked by the real IFEval verifier, resumed after a fault."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tulu_recipes.generation.constraints import describe, load_catalog
from tulu_recipes.generation.if_preferences import IFPreferencesConfig, clean_rewrite, generate_if_preferences

try:
    from tests.openai_server import ChatServer, Reply, last_user_text
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply, last_user_text

CATALOG = load_catalog()
LOWER = {"func_name": "validate_lowercase"}
COMMAS = {"func_name": "validate_no_commas"}
POSTSCRIPT = {"func_name": "verify_postscript", "postscript_marker": "P.S."}
REWRITE_HEAD = "Below is a request sent to an AI assistant."


def request(task: str, *constraints: dict) -> str:
    return " ".join([task, *(describe(c, CATALOG) for c in constraints)])


ROWS = [
    # kept: the relaxed request is answered with capitals
    {"messages": [{"role": "user", "content": request("Describe the sea.", LOWER)}], "ground_truth": json.dumps(LOWER)},
    # kept: an SFT row (its old answer is dropped); two constraints, the comma one is relaxed or not (seeded)
    {
        "messages": [
            {"role": "user", "content": request("Name three fruits.", COMMAS, LOWER)},
            {"role": "assistant", "content": "old answer"},
        ],
        "ground_truth": json.dumps([COMMAS, LOWER]),
    },
    # dropped: the rewrite keeps the constraint, so the rejected answer still follows it
    {"messages": [{"role": "user", "content": request("Say hello.", LOWER)}], "ground_truth": json.dumps(LOWER)},
    # dropped: the model never writes a postscript, so even the chosen answer breaks the constraint
    {
        "messages": [{"role": "user", "content": request("Thank a colleague.", POSTSCRIPT)}],
        "ground_truth": json.dumps(POSTSCRIPT),
    },
    {"messages": [{"role": "user", "content": "No constraint here."}], "ground_truth": None},  # skipped
]


def respond(req: dict) -> Reply:
    """The rewrite model deletes the named constraint (except for "Say hello."); the answering model obeys
    exactly the lowercase and no-comma instructions it sees and nothing else."""
    text = last_user_text(req)
    if text.startswith(REWRITE_HEAD):
        original = text.split("Request:\n", 1)[1].split("\n\nThe constraint to drop:", 1)[0]
        dropped = text.split('The constraint to drop: "', 1)[1].split('"\n', 1)[0]
        relaxed = original if original.startswith("Say hello.") else original.replace(" " + dropped, "")
        return Reply(content=f"User instruction: {relaxed}")
    answer = "Apples, Pears and Plums are Fine."
    if describe(COMMAS, CATALOG) in text:
        answer = answer.replace(",", "")
    if describe(LOWER, CATALOG) in text:
        answer = answer.lower()
    return Reply(content=answer)


def test_clean_rewrite() -> None:
    assert clean_rewrite('  User instruction: "Write a haiku."  ') == "Write a haiku."
    assert clean_rewrite("user instruction:\nWrite a haiku.") == "Write a haiku."
    assert clean_rewrite("Write a haiku.") == "Write a haiku."


def test_pairs_are_verified_and_the_run_resumes(tmp_path: Path) -> None:
    prompts = tmp_path / "persona_if.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / "if_prefs.jsonl"

    def config(url: str) -> IFPreferencesConfig:
        return IFPreferencesConfig(
            prompts=str(prompts),
            output_path=str(out),
            rewrite_model={"name": "rewriter", "base_url": url},
            response_model={"name": "answerer", "base_url": url},
            max_retries=1,
            retry_base_delay=0.0,
            retry_max_delay=0.0,
            progress=False,
            seed=3,
        )

    def faulty(req: dict) -> Reply:  # the fruit row's rewrite fails for good (HTTP 400) in the first run
        text = last_user_text(req)
        return Reply(status=400) if text.startswith(REWRITE_HEAD) and "Name three fruits." in text else respond(req)

    with ChatServer(faulty) as server:
        first = generate_if_preferences(config(server.base_url))
    assert first["prompts"] == 4 and first["summary"].failed == 1 and first["summary"].done == 3
    assert first["pairs"] == 1 and first["dropped"] == {"chosen_breaks": 1, "rejected_follows": 1}

    with ChatServer(respond) as server:
        second = generate_if_preferences(config(server.base_url))
        calls = Counter(r["model"] for r in server.requests)
    assert calls == {"rewriter": 1, "answerer": 2}  # only the failed row is redone
    assert second["pairs"] == 2 and second["dropped"] == {"chosen_breaks": 1, "rejected_follows": 1}

    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    by_task = {p["chosen"][0]["content"].split(".")[0]: p for p in pairs}
    assert set(by_task) == {"Describe the sea", "Name three fruits"}
    sea, prompt = by_task["Describe the sea"], ROWS[0]["messages"][0]
    assert sea["chosen"] == [
        prompt,
        {"role": "assistant", "content": "apples, pears and plums are fine."},
    ]
    assert sea["rejected"] == [
        prompt,
        {"role": "assistant", "content": "Apples, Pears and Plums are Fine."},
    ]
    assert sea["relaxed_prompt"] == "Describe the sea." and sea["relaxed_constraint"] == LOWER
    fruits = by_task["Name three fruits"]
    assert fruits["chosen"][:-1] == fruits["rejected"][:-1] == ROWS[1]["messages"][:1]  # the old answer is gone
    assert fruits["chosen"][-1]["content"] == "apples pears and plums are fine."  # follows both constraints
    relaxed = fruits["relaxed_constraint"]
    assert relaxed in (COMMAS, LOWER) and describe(relaxed, CATALOG) not in fruits["relaxed_prompt"]

    # Everything cached: a dead server gets no request and the same pairs are written.
    with ChatServer(lambda req: Reply(status=500)) as dead:
        third = generate_if_preferences(config(dead.base_url))
        assert dead.requests == []
    assert third["pairs"] == 2 and [json.loads(line) for line in out.read_text().splitlines()] == pairs


def test_example_recipe_parses() -> None:
    from tulu_recipes.generation._cli import parse_config

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "examples" / "if_preferences.yaml"
    config = parse_config(IFPreferencesConfig, [str(recipe), "--max_prompts", "3"])
    assert config.max_prompts == 3 and config.rewrite_model["model"] == "gpt-4o-2024-08-06"
    assert config.response_model is None and config.prompts.endswith("persona_sft.jsonl")
