"""Generation through datatrove's InferenceRunner (`inference_server`): the same bytes as the embedded path.

No GPU here, so no `vllm serve`: the runner's `endpoint` mode asks the loopback server that the embedded path asks,
and its `custom` mode starts that server as a script once per task (datatrove's per-task launch, readiness probe and
stop: what it does for vLLM, with another command). The key checks exit 2 in one line before any work.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("datatrove")
pytest.importorskip("httpx")

from tulu_recipes.pipelines import executors  # noqa: E402

try:
    from tests.openai_server import ChatServer, Reply, last_user_text
    from tests.test_generation_if_preferences import ROWS as IF_ROWS
    from tests.test_generation_if_preferences import respond as if_respond
    from tests.test_pipelines import (
        LOCAL,
        QUALITY,
        prefs_recipe,
        prefs_respond,
        run_stage,
        synth_recipe,
        synth_responder,
    )
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply, last_user_text
    from test_generation_if_preferences import ROWS as IF_ROWS
    from test_generation_if_preferences import respond as if_respond
    from test_pipelines import LOCAL, QUALITY, prefs_recipe, prefs_respond, run_stage, synth_recipe, synth_responder

SERVED_SCRIPT = Path(__file__).with_name("_served_loopback.py")


def endpoint(server: ChatServer) -> list[str]:
    return [*LOCAL, "--inference-server", "endpoint", "--inference-endpoint-url", server.root_url]


def runner_documents(tmp_path: Path, output: str) -> list[dict]:
    (run,) = (tmp_path / f"{output}.datatrove").iterdir()
    files = sorted((run / "inference").rglob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_preferences_pool_through_the_inference_runner_gives_the_embedded_pairs(tmp_path: Path) -> None:
    with ChatServer(prefs_respond) as server:
        recipe = prefs_recipe(tmp_path, server)
        embedded = run_stage("preferences", recipe, tmp_path, "embedded.jsonl").read_bytes()
        asked_embedded = Counter(json.dumps(r, sort_keys=True) for r in server.requests)
        server.requests.clear()
        served = run_stage("preferences", recipe, tmp_path, "served.jsonl", *endpoint(server)).read_bytes()
        asked_served = Counter(json.dumps(r, sort_keys=True) for r in server.requests)
        probes = server.probes
    assert served == embedded
    assert asked_served == asked_embedded  # the same request bodies, each asked once: 12 completions, 12 judgments
    assert sum(asked_served.values()) == 6 * 2 * 2
    docs = runner_documents(tmp_path, "served.jsonl")
    # the 12 completions went through datatrove's runner (one document each, ids = our item ids); the judge did not
    assert len(docs) == 12 == len({d["id"] for d in docs})
    assert {d["metadata"]["item"]["model"] for d in docs} <= set(QUALITY)
    assert all(d["metadata"]["rollout_results"][0]["text"].endswith(d["metadata"]["item"]["prompt"][0]["content"])
               for d in docs)  # fmt: skip
    assert probes >= 1  # the runner waited for /v1/models before asking
    pairs = [json.loads(line) for line in served.decode().splitlines()]
    assert [p["chosen"][0]["content"] for p in pairs] == [f"question {i}" for i in range(6)]
    assert all(p["chosen_rating"] == QUALITY[p["chosen_model"]] > p["rejected_rating"] for p in pairs)


def test_synthesize_through_the_inference_runner_gives_the_embedded_rows(tmp_path: Path) -> None:
    with ChatServer(synth_responder()) as server:
        recipe = synth_recipe(tmp_path, server)
        embedded = run_stage("synthesize", recipe, tmp_path, "embedded.jsonl").read_bytes()
        server.requests.clear()
        served = run_stage("synthesize", recipe, tmp_path, "served.jsonl", *endpoint(server)).read_bytes()
        assert len(server.requests) == 2 * 12  # 12 items, a prompt and an answer each
    assert served == embedded
    assert len(runner_documents(tmp_path, "served.jsonl")) == 12


def test_if_preferences_through_the_inference_runner_gives_the_embedded_pairs(tmp_path: Path) -> None:
    prompts = tmp_path / "persona_if.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in IF_ROWS))
    with ChatServer(if_respond) as server:
        recipe = {"prompts": str(prompts), "rewrite_model": {"name": "answerer", "base_url": server.base_url},
                  "progress": False, "seed": 3}  # fmt: skip
        embedded = run_stage("if-preferences", recipe, tmp_path, "embedded.jsonl").read_bytes()
        served = run_stage("if-preferences", recipe, tmp_path, "served.jsonl", *endpoint(server)).read_bytes()
    assert served == embedded
    assert [json.loads(p)["chosen"][0]["content"].split(".")[0] for p in served.decode().splitlines()] == [
        "Describe the sea",
        "Name three fruits",
    ]


def test_an_item_refused_by_the_server_fails_then_a_rerun_asks_only_for_it(tmp_path: Path) -> None:
    personas = tmp_path / "personas.txt"
    names = ["chef", "pilot", "poet", "nurse", "miner", "judge", "baker", "diver"]  # two per task
    personas.write_text("\n".join(names))
    answer = synth_responder()
    refuse = {"poet": False}

    def respond(request: dict) -> Reply:
        if refuse["poet"] and "Persona: poet" in last_user_text(request):
            return Reply(status=400)  # datatrove: BadRequestError; ours: a FatalError, the item fails
        return answer(request)

    with ChatServer(respond) as server:
        recipe = {"personas": str(personas), "skills": ["math"], "progress": False,
                  "prompt_model": {"name": "stub", "base_url": server.base_url}}  # fmt: skip
        embedded = run_stage("synthesize", recipe, tmp_path, "embedded.jsonl").read_bytes()
        refuse["poet"] = True
        server.requests.clear()
        first = run_stage("synthesize", recipe, tmp_path, "served.jsonl", *endpoint(server)).read_text()
        assert [json.loads(r)["persona"] for r in first.splitlines()] == [n for n in names if n != "poet"]
        assert len(server.requests) == 7 * 2 + 1  # the poet's prompt was refused, so never answered
        refuse["poet"] = False
        server.requests.clear()
        second = run_stage("synthesize", recipe, tmp_path, "served.jsonl", *endpoint(server)).read_bytes()
        asked = [last_user_text(r) for r in server.requests]
    assert second == embedded
    assert len(asked) == 2 and "Persona: poet" in asked[0]  # only the poet's item was asked again


def test_custom_server_is_started_by_datatrove_once_per_task(tmp_path: Path) -> None:
    """datatrove's per-task launch (what `vllm serve` gets on a GPU node), with the loopback script as the server."""
    personas = tmp_path / "personas.txt"
    personas.write_text("\n".join(["chef", "pilot", "poet", "nurse"]))
    with ChatServer(synth_responder()) as server:
        recipe = {"personas": str(personas), "skills": ["math"], "progress": False,
                  "prompt_model": {"name": "stub", "base_url": server.base_url}}  # fmt: skip
        embedded = run_stage("synthesize", recipe, tmp_path, "embedded.jsonl").read_bytes()
    launches = tmp_path / "launches.txt"
    settings = {"model_kwargs": {"server_script": str(SERVED_SCRIPT), "launch-log": str(launches)},
                "server_ready_delay_sec": 0.2, "server_log_folder": str(tmp_path / "server-logs")}  # fmt: skip
    recipe = {**recipe, "inference_server": "custom", "inference_settings": settings}
    served = run_stage("synthesize", recipe, tmp_path, "served.jsonl", *LOCAL).read_bytes()
    assert served == embedded
    ports = launches.read_text().split()
    assert len(ports) == len(set(ports)) == 4  # one server per task, each on its own port
    assert len(list((tmp_path / "server-logs").glob("server_rank_*.log"))) == 4


@pytest.mark.parametrize(
    ("extra", "missing", "message"),
    [
        (["--inference-server", "tgi"], set(), "inference_server: unknown 'tgi'; choose one of vllm, sglang, "
         "endpoint, custom"),
        (["--inference-server", "vllm"], {"datatrove"}, "inference_server: vllm needs datatrove, which is not "
         "installed: pip install 'tulu-recipes[datatrove]'"),
        (["--inference-server", "endpoint"], set(), "inference_endpoint_url goes with inference_server: endpoint, "
         "and only with it"),
        (["--inference-server", "vllm", "--inference-endpoint-url", "http://127.0.0.1:1"], set(),
         "inference_endpoint_url goes with inference_server: endpoint, and only with it"),
    ],
)  # fmt: skip
def test_bad_inference_keys_exit_2_in_one_line_before_any_work(tmp_path, capsys, monkeypatch, extra, missing, message):
    real = executors._installed
    monkeypatch.setattr(executors, "_installed", lambda module: module not in missing and real(module))
    recipe = {"personas": str(tmp_path / "absent.txt"), "prompt_model": {"name": "m", "base_url": "http://x/v1"}}
    with pytest.raises(SystemExit) as exit_info:
        run_stage("synthesize", recipe, tmp_path, "out.jsonl", *extra)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: invalid recipe") and err.endswith(message), err
    assert not list(tmp_path.glob("out.jsonl*"))


@pytest.mark.parametrize(
    ("stage", "recipe", "extra", "message"),
    [
        ("synthesize", {"personas": "absent.txt", "prompt_model": {"name": "a"}}, ["--inference-server", "vllm"],
         "error: inference_server needs a datatrove executor (executor: local, slurm or ray)"),
        ("synthesize", {"personas": "absent.txt", "prompt_model": {"name": "a"}, "response_model": {"name": "b"}},
         [*LOCAL, "--inference-server", "vllm"],
         "error: inference_server: a task serves one model; prompt_model (a) and response_model (b) differ"),
        ("if-preferences", {"prompts": "absent.jsonl", "rewrite_model": {"name": "a", "model": "org/x"},
                            "response_model": {"name": "b", "model": "org/y"}},
         [*LOCAL, "--inference-server", "sglang"],
         "error: inference_server: a task serves one model; rewrite_model (org/x) and response_model (org/y) differ"),
        ("preferences", {"prompts": "absent.jsonl", "models": [{"name": "a"}], "inference_settings": {"tp": 2}},
         ["--executor", "slurm", "--slurm-partition", "gpu", "--gpus-per-task", "1", "--inference-server", "vllm"],
         "error: inference_server: vllm with tp*dp*pp = 2 needs gpus_per_task >= 2 (got 1)"),
    ],
)  # fmt: skip
def test_inference_keys_the_stage_cannot_serve_exit_2_in_one_line(tmp_path, capsys, stage, recipe, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        run_stage(stage, recipe, tmp_path, "out.jsonl", *extra)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == message
    assert not list(tmp_path.glob("out.jsonl*"))


def test_the_served_model_and_settings_reach_datatrove(tmp_path: Path, monkeypatch) -> None:
    """On a GPU node the same call starts `vllm serve <model id> --tensor-parallel-size 2 ...` (not run here)."""
    from datatrove.pipeline.inference import run_inference

    from tulu_recipes.generation.synthesize import SynthesizeConfig
    from tulu_recipes.pipelines import inference
    from tulu_recipes.pipelines.inference_config import InferenceRunnerConfig

    seen = {}

    def fake_run(self, data, rank=0, world_size=1):  # the runner as built, without starting vLLM
        seen.update(config=self.config, rank=rank, ids=[d.id for d in data])

    monkeypatch.setattr(run_inference.InferenceRunner, "run", fake_run)
    personas = tmp_path / "p.txt"
    personas.write_text("chef\npilot\n")
    spec = {"name": "tulu-8b-sft", "model": "allenai/Llama-3.1-Tulu-3-8B-SFT", "backend": "vllm"}
    config = SynthesizeConfig(output_path=str(tmp_path / "o.jsonl"), personas=str(personas), skills=["math"],
                              prompt_model=spec)  # fmt: skip
    served = InferenceRunnerConfig("vllm", inference_settings={"tp": 2, "model_max_context": 4096})
    backends = inference.run_task("synthesize", config, served, tmp_path, 3, 4)
    assert (seen["config"].server_type, seen["config"].model_name_or_path) == ("vllm", spec["model"])
    assert (seen["config"].tp, seen["config"].model_max_context, seen["rank"]) == (2, 4096, 3)
    assert len(seen["ids"]) == 2 and set(backends) == {"tulu-8b-sft"}


def test_hosted_api_models_keep_their_own_backend(tmp_path: Path, monkeypatch) -> None:
    """The pool's GPT-4o and the judge are APIs: only the open models are served per task."""
    from datatrove.pipeline.inference import run_inference

    from tulu_recipes.generation.preferences import PreferencesConfig
    from tulu_recipes.pipelines import inference
    from tulu_recipes.pipelines.inference_config import InferenceRunnerConfig

    asked: dict[str, list[str]] = {}
    monkeypatch.setattr(run_inference.InferenceRunner, "run", lambda self, data, rank=0, world_size=1: asked.update(
        {self.config.model_name_or_path: [d.metadata["item"]["model"] for d in data]}))  # fmt: skip
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"messages": f"q{i}"}) + "\n" for i in range(5)))
    api = "https://api.openai.com/v1"
    pool = [{"name": "qwen", "model": "Qwen/Qwen2.5-7B-Instruct", "base_url": "http://localhost:8002/v1"},
            {"name": "gpt-4o", "base_url": api, "api_key_env": "OPENAI_API_KEY"}]  # fmt: skip
    config = PreferencesConfig(prompts=str(prompts), output_path=str(tmp_path / "o.jsonl"), models=pool,
                               on_policy_model={"name": "sft", "backend": "vllm", "model": "out/sft"},
                               judge_model={"name": "judge", "base_url": api}, models_per_prompt=2)  # fmt: skip
    backends = inference.run_task("preferences", config, InferenceRunnerConfig("vllm"), tmp_path, 0, 1)
    assert asked == {"Qwen/Qwen2.5-7B-Instruct": ["qwen"] * 5, "out/sft": ["sft"] * 5}
    assert set(backends) == {"qwen", "sft"}  # gpt-4o and the judge: built by the stage from their specs


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
