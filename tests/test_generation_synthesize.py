"""Persona synthesis: the IFEval constraint catalog, identity conversations, and a full run on a loopback server."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tulu_recipes.generation._cli import parse_config
from tulu_recipes.generation.constraints import bind_prompt, load_catalog, sample_constraint
from tulu_recipes.generation.identity import identity_conversations, load_identity_templates
from tulu_recipes.generation.preferences import PreferencesConfig
from tulu_recipes.generation.synthesize import SynthesizeConfig, build_items, load_personas, synthesize

try:
    from tests.openai_server import ChatServer, Reply, last_user_text
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply, last_user_text

REPO = Path(__file__).resolve().parents[1]

# Argument names of open-instruct's open_instruct/if_functions.py, per function (text argument excluded).
IF_FUNCTION_KWARGS = {
    "verify_keywords": {"keyword_list"},
    "verify_keyword_frequency": {"word", "N"},
    "validate_forbidden_words": {"forbidden_words"},
    "verify_letter_frequency": {"letter", "N"},
    "validate_response_language": {"language"},
    "verify_paragraph_count": {"N"},
    "validate_word_constraint": {"N", "quantifier"},
    "verify_sentence_constraint": {"N", "quantifier"},
    "validate_paragraphs": {"N", "first_word", "i"},
    "verify_postscript": {"postscript_marker"},
    "validate_placeholders": {"N"},
    "verify_bullet_points": {"N"},
    "validate_title": set(),
    "validate_choice": {"options"},
    "validate_highlighted_sections": {"N"},
    "validate_sections": {"N", "section_splitter"},
    "validate_json_format": set(),
    "validate_repeat_prompt": {"original_prompt"},
    "validate_two_responses": set(),
    "validate_uppercase": set(),
    "validate_lowercase": set(),
    "validate_frequency_capital_words": {"N", "quantifier"},
    "validate_end": {"end_phrase"},
    "validate_quotation": set(),
    "validate_no_commas": set(),
}


def test_catalog_covers_the_25_functions_with_their_exact_kwargs() -> None:
    catalog = load_catalog()
    assert [entry["func_name"] for entry in catalog] == list(IF_FUNCTION_KWARGS)
    for entry in catalog:
        assert set(entry["kwargs"]) == IF_FUNCTION_KWARGS[entry["func_name"]], entry["func_name"]


def test_sampled_constraints_are_filled_and_seeded() -> None:
    catalog = load_catalog()
    rng = random.Random(0)
    seen = set()
    for _ in range(600):
        ground_truth, text = sample_constraint(rng, catalog)
        seen.add(ground_truth["func_name"])
        assert "{" not in text and "}" not in text, text
        assert set(ground_truth) - {"func_name"} == IF_FUNCTION_KWARGS[ground_truth["func_name"]]
        if ground_truth["func_name"] == "validate_paragraphs":
            assert ground_truth["i"] <= ground_truth["N"]
        if ground_truth["func_name"] == "validate_response_language":
            assert ground_truth["language"] in {"de", "fr", "es", "it", "pt"}
            assert (
                "German" in text or "French" in text or "Spanish" in text or "Italian" in text or "Portuguese" in text
            )
    assert len(seen) == 25
    assert sample_constraint(random.Random(5), catalog) == sample_constraint(random.Random(5), catalog)
    repeat = next(c for c in catalog if c["func_name"] == "validate_repeat_prompt")
    ground_truth, _ = sample_constraint(random.Random(0), [repeat])
    assert bind_prompt(ground_truth, "Tell me a joke.") == {
        "func_name": "validate_repeat_prompt",
        "original_prompt": "Tell me a joke.",
    }


def test_identity_conversations() -> None:
    templates = load_identity_templates()
    assert len(templates) == 24
    assert len({t["user"] for t in templates}) == 24
    assert all("{model_name}" in t["assistant"] or "{developer}" in t["assistant"] for t in templates)
    rows = identity_conversations("Olmo-Mini", "Example Lab", repeat=10)
    assert len(rows) == 240
    text = json.dumps(rows)
    assert "{model_name}" not in text and "{developer}" not in text
    assert rows[0]["messages"][0]["role"] == "user" and rows[0]["messages"][1]["role"] == "assistant"
    assert sum("Olmo-Mini" in r["messages"][1]["content"] for r in rows[::10]) >= 18
    with pytest.raises(ValueError):
        identity_conversations("", "Lab")


def _lower_upper_verify(response: str, ground_truth: str) -> bool:
    spec = json.loads(ground_truth)
    checks = {
        "validate_lowercase": response == response.lower(),
        "validate_uppercase": response == response.upper(),
        "validate_repeat_prompt": response.startswith(spec.get("original_prompt", "\0")),
    }
    return checks[spec["func_name"]]


def _synth_responder(request: dict) -> Reply:
    text = last_user_text(request)
    if text.startswith("Write one realistic request"):
        assert "appended to your request" in text and "$constraint" not in text
        persona = text.split("Persona: ", 1)[1].split("\n", 1)[0]
        return Reply(content=f'"What does a {persona} need?"')  # quotes are stripped
    if text.startswith("Write one challenging math word problem"):
        return Reply(content="How many apples are left?")
    return Reply(content="a short lowercase answer.")


def test_synthesize_end_to_end(tmp_path: Path) -> None:
    personas = tmp_path / "personas.txt"
    personas.write_text("\n".join(["chef", "pilot", "", "chef", "poet", "nurse", "miner", "judge", "baker"]))
    assert load_personas(str(personas)) == ["chef", "pilot", "poet", "nurse", "miner", "judge", "baker"]
    with ChatServer(_synth_responder) as server:
        spec = {"name": "stub", "base_url": server.base_url}
        config = SynthesizeConfig(
            output_path=str(tmp_path / "all.jsonl"),
            personas=str(personas),
            skills=["if", "math"],
            prompt_model=spec,
            constraints=["validate_lowercase", "validate_uppercase", "validate_repeat_prompt"],
            verified_only=False,
            progress=False,
            identity_model_name="Tester",
            identity_developer="Lab",
            identity_repeat=1,
            identity_output_path=str(tmp_path / "identity.jsonl"),
        )
        stats = synthesize(config, verify=_lower_upper_verify)
        assert len(server.requests) == 2 * 14
        kept = synthesize(
            SynthesizeConfig(
                **{
                    **config.__dict__,
                    "output_path": str(tmp_path / "kept.jsonl"),
                    "cache_path": str(tmp_path / "all.jsonl.cache.jsonl"),
                    "verified_only": True,
                }
            ),
            verify=_lower_upper_verify,
        )
        assert len(server.requests) == 2 * 14  # the second pass reuses the cache: no new calls
    assert stats["identity_rows"] == 24 and stats["summary"].done == 14
    rows = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert len(rows) == 14
    if_rows = [r for r in rows if r["skill"] == "if"]
    math_rows = [r for r in rows if r["skill"] == "math"]
    assert len(if_rows) == 7 and len(math_rows) == 7
    expected = {
        item["persona"]: item["ground_truth"]["func_name"]
        for item in build_items(config, load_personas(str(personas)))
        if item["skill"] == "if"
    }
    for row in if_rows:
        spec = json.loads(row["ground_truth"])
        assert spec["func_name"] == expected[row["persona"]]
        assert row["dataset"] == "ifeval"
        user = row["messages"][0]["content"]
        assert user.startswith(f"What does a {row['persona']} need?\n\n")
        if spec["func_name"] == "validate_repeat_prompt":
            assert spec["original_prompt"] == f"What does a {row['persona']} need?"
        assert row["verified"] == (spec["func_name"] == "validate_lowercase")
    for row in math_rows:
        assert row["messages"][0]["content"] == "How many apples are left?"
        assert row["ground_truth"] is None and row["verified"] is None
    kept_rows = [json.loads(line) for line in (tmp_path / "kept.jsonl").read_text().splitlines()]
    n_lower = sum(1 for v in expected.values() if v == "validate_lowercase")
    assert 0 < n_lower < 7  # the seed gives a mix, so the filter is really exercised
    assert kept["rows"] == len(kept_rows) == 7 + n_lower
    assert len((tmp_path / "identity.jsonl").read_text().splitlines()) == 24


def test_rows_check_with_the_rewards_verifier() -> None:
    from tulu_recipes.generation.synthesize import to_rows

    record = {
        "id": "x",
        "input": {"skill": "if", "persona": "p", "response_model": "m"},
        "output": {
            "prompt": "q",
            "response": "all lowercase here",
            "ground_truth": '{"func_name": "validate_lowercase"}',
        },
    }
    upper = {**record, "id": "y", "output": {**record["output"], "response": "NOT LOWER"}}
    rows = to_rows([record, upper], verified_only=False)
    assert [r["verified"] for r in rows] == [True, False]


def test_example_recipes_parse() -> None:
    synth = parse_config(SynthesizeConfig, [str(REPO / "recipes/examples/synthesize.yaml")])
    assert Path(synth.personas).exists() and len(load_personas(synth.personas)) == 8
    assert synth.skills == ["if", "math", "code"] and synth.prompt_model["api_key_env"] == "OPENAI_API_KEY"
    prefs = parse_config(PreferencesConfig, [str(REPO / "recipes/examples/preferences.yaml"), "--max_prompts", "3"])
    assert prefs.max_prompts == 3 and len(prefs.models) == 5 and prefs.on_policy_model["name"] == "tulu3-8b-sft"
