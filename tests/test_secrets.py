"""What is secret, how it is redacted, and that a redacted recipe runs again (or stops in one line)."""

from __future__ import annotations

import json
import logging
import os

import pytest
from trl import ModelConfig

from tulu_recipes.config import RecipeError, load_yaml, parse_recipe, run_cli, save_recipe
from tulu_recipes.data import load_mixture
from tulu_recipes.data.decontamination.report import Cell, Report
from tulu_recipes.generation.backends import Completion, FatalError, ModelSpec, OpenAIBackend, TransientError
from tulu_recipes.generation.executor import RetryPolicy, failures_path, run_items
from tulu_recipes.model_card import write_model_card
from tulu_recipes.script_args import TuluScriptArguments
from tulu_recipes.secrets import REDACTED, is_secret_name, redact_recipe, scrub_error, scrub_values
from tulu_recipes.stages import sft
from tulu_recipes.stages.mixture import write_data_outputs
from tulu_recipes.stages.rlvr import ALGORITHMS
from tulu_recipes.trainers.dpo import TuluDPOConfig
from tulu_recipes.trainers.sft import TuluSFTConfig

try:
    from tests.openai_server import ChatServer, Reply
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply

TYPES = [TuluScriptArguments, TuluSFTConfig, ModelConfig]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("hub_token", True),
        ("HF_TOKEN", True),
        ("WANDB_API_KEY", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("db-password", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("api_key", True),
        ("pad_token", False),
        ("eos_token", False),
        ("max_new_tokens", False),
        ("api_key_env", False),
        ("HF_TOKEN_PATH", False),
        ("identity_keywords", False),
        ("TOKENIZERS_PARALLELISM", False),
    ],
)
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


def test_redact_recipe_keeps_names_and_structure(monkeypatch):
    monkeypatch.setenv("TULU_TEST_SERVICE_TOKEN", "tok-0123456789")
    recipe = {
        "env": {"HF_TOKEN": "hf_abc", "TOKENIZERS_PARALLELISM": "false", "UNSET": None},
        "hub_token": "hf_xyz",
        "pad_token": "<pad>",
        "use_auth_token": True,
        "learning_rate": 5e-6,
        "models": [{"name": "m", "api_key_env": "OPENAI_API_KEY", "extra_body": {"api_key": "sk-1"}}],
        "run_name": "run-tok-0123456789",
    }
    assert redact_recipe(recipe) == {
        "env": {"HF_TOKEN": REDACTED, "TOKENIZERS_PARALLELISM": REDACTED, "UNSET": None},
        "hub_token": REDACTED,
        "pad_token": "<pad>",
        "use_auth_token": True,  # a flag is not a secret
        "learning_rate": 5e-6,
        "models": [{"name": "m", "api_key_env": "OPENAI_API_KEY", "extra_body": {"api_key": REDACTED}}],
        "run_name": f"run-{REDACTED}",  # the value of a secret-named variable, wherever it appears
    }
    assert recipe["hub_token"] == "hf_xyz"  # the input is untouched


def test_scrub_error_blanks_headers_bearer_credentials_and_known_values(monkeypatch):
    monkeypatch.setenv("TULU_TEST_API_KEY", "sk-known-0123456789")
    assert scrub_error("HTTP 401: Authorization: Bearer sk-unknown-42424242") == (
        f"HTTP 401: Authorization: Bearer {REDACTED}"
    )
    assert (
        scrub_error("{'authorization': 'Basic dXNlcjpwYXNz', 'x': 1}")
        == f"{{'authorization': 'Basic {REDACTED}', 'x': 1}}"
    )
    assert scrub_error("headers={'Authorization': 'sk-raw-99999999'}") == f"headers={{'Authorization': '{REDACTED}'}}"
    assert scrub_error("proxy says: bearer abcdefgh12345678 refused") == f"proxy says: bearer {REDACTED} refused"
    assert scrub_error("key sk-known-0123456789 echoed") == f"key {REDACTED} echoed"
    assert scrub_error("the bearer bonds matured") == "the bearer bonds matured"  # ordinary words stay
    assert scrub_values({"a": ["x sk-known-0123456789"], "n": 3}) == {"a": [f"x {REDACTED}"], "n": 3}


def test_saved_recipe_redacts_env_and_hub_token_and_runs_again_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("TULU_TEST_WANDB_KEY", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "env:\n  TULU_TEST_WANDB_KEY: wandb-0123456789abcdef\nhub_token: hf_recipe_0123456789\n"
        "model_name_or_path: m\ndataset_mixer:\n  - {path: x/y}\nlearning_rate: 2.0e-5\nuse_cpu: true\nbf16: false\n"
    )
    configs = parse_recipe(TYPES, [str(recipe)])
    assert configs[1].hub_token is None and os.environ["HF_TOKEN"] == "hf_recipe_0123456789"  # huggingface_hub's
    saved = save_recipe(tmp_path / "out", *configs)
    text = saved.read_text()
    assert "wandb-0123456789abcdef" not in text and "hf_recipe_0123456789" not in text
    assert load_yaml(saved)["env"] == {"TULU_TEST_WANDB_KEY": REDACTED} and load_yaml(saved)["hub_token"] == REDACTED

    monkeypatch.setenv("TULU_TEST_WANDB_KEY", "wandb-from-the-shell-42")
    monkeypatch.delenv("HF_TOKEN")
    again = parse_recipe(TYPES, [str(saved)])
    assert os.environ["TULU_TEST_WANDB_KEY"] == "wandb-from-the-shell-42"
    assert again == configs and again[1].learning_rate == 2e-5
    assert "HF_TOKEN" not in os.environ  # a redacted hub_token is unset: huggingface_hub's own login applies


def test_redacted_env_variable_missing_stops_in_one_line_before_anything_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TULU_TEST_MISSING_TOKEN", raising=False)
    saved = tmp_path / "recipe.yaml"  # a saved recipe whose model and data do not exist: the env error comes first
    saved.write_text(
        f"env:\n  TULU_TEST_MISSING_TOKEN: '{REDACTED}'\nmodel_name_or_path: {tmp_path}/no-model\n"
        f"dataset_mixer:\n  - {{path: {tmp_path}/no-data.jsonl}}\noutput_dir: {tmp_path}/out\n"
    )
    with pytest.raises(SystemExit) as info:
        run_cli(sft.main, [str(saved)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: env 'TULU_TEST_MISSING_TOKEN' in {saved} was redacted when the recipe was saved and "
        "TULU_TEST_MISSING_TOKEN is not set: export TULU_TEST_MISSING_TOKEN before running it\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_value_redacted_inside_another_field_cannot_run(tmp_path):
    saved = tmp_path / "recipe.yaml"
    saved.write_text(
        f"use_cpu: true\nmodel_name_or_path: m\ndataset_mixer:\n  - {{path: 'https://host/{REDACTED}/x'}}\n"
    )
    with pytest.raises(RecipeError, match=r"key 'dataset_mixer\[0\].path' in .* holds a value redacted"):
        parse_recipe(TYPES, [str(saved)])


@pytest.mark.parametrize(
    "config_cls", [TuluSFTConfig, TuluDPOConfig, *(c for c, _ in ALGORITHMS.values())], ids=lambda c: c.__name__
)
def test_hyperparameters_logged_by_transformers_mask_every_secret_field(config_cls, tmp_path):
    """W&B logs `to_dict()`, TensorBoard `to_sanitized_dict()`; a config built without a recipe still holds the
    token, and transformers must mask it (and any secret-named field a TRL upgrade adds)."""
    kwargs = {"output_dir": str(tmp_path), "use_cpu": True, "bf16": False, "report_to": "none"}
    if "num_generations" in config_cls.__dataclass_fields__:
        kwargs.update(per_device_train_batch_size=2, num_generations=2)
    secret_fields = [n for n, f in config_cls.__dataclass_fields__.items() if f.init and is_secret_name(n)]
    assert "hub_token" in secret_fields
    args = config_cls(**kwargs, **{n: f"planted-{n}-0123456789" for n in secret_fields})
    for text in (args.to_json_string(), str(args.to_sanitized_dict()), str(args)):
        assert "planted-" not in text


def test_card_recipe_and_data_reports_cut_out_the_value_of_a_secret_variable(tmp_path, monkeypatch):
    """A path that happens to contain a token (here a folder named after it) and a config built without a recipe."""
    monkeypatch.setenv("TULU_TEST_HUB_TOKEN", "hf_in_a_path_0123456789")
    folder = tmp_path / "hf_in_a_path_0123456789"
    folder.mkdir()
    data = folder / "sft.jsonl"
    row = {"messages": [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "hello"}]}
    data.write_text(json.dumps(row) + "\n")
    mixture = load_mixture([{"path": str(data)}], kind="sft", seed=0)
    mixture.decontamination = Report(
        8, 0.5, 0.02, {str(data): 1}, {"ev": 1}, [Cell(str(data), "ev", 1, 1, [], False)], {}
    )
    configs = (
        TuluScriptArguments(dataset_mixer=[{"path": str(data)}]),
        TuluSFTConfig(output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, hub_token="hf_direct_0123456789"),
        ModelConfig(model_name_or_path=str(folder)),
    )
    out = tmp_path / "out"
    written = [*write_data_outputs(out, mixture), save_recipe(out, *configs)]
    written.append(write_model_card(out, "sft", configs, data=mixture, report=mixture.decontamination))
    assert sorted(p.name for p in written) == [
        "README.md",
        "decontamination.json",
        "decontamination.md",
        "mixture.json",
        "mixture.md",
        "recipe.yaml",
    ]
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "hf_in_a_path_0123456789" not in text and "hf_direct_0123456789" not in text, path.name
        assert REDACTED in text, path.name
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"Base model: the local checkpoint `{tmp_path}/{REDACTED}`." in card and f"hub_token: {REDACTED}" in card


KEY = "sk-planted-executor-key-0123456789"


class LeakyBackend:
    """Not urllib: a client whose errors quote the request headers and whose output echoes the key."""

    spec = ModelSpec(name="leaky", base_url="http://unused")

    def generate(self, messages, **_):
        text = messages[-1]["content"]
        if text == "transient":
            raise TransientError(f"503 from upstream; request headers: {{'Authorization': 'Bearer {KEY}'}}")
        if text == "fatal":
            raise RuntimeError(f"client error with api_key={KEY}")
        return Completion(text=f"echo {KEY}")


def test_executor_keeps_keys_out_of_records_and_logs_whatever_the_client(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TULU_TEST_OPENAI_API_KEY", KEY)
    backend = LeakyBackend()

    def work(item):
        return {"text": backend.generate([{"role": "user", "content": item["q"]}]).text}

    out = tmp_path / "out.jsonl"
    caplog.set_level(logging.DEBUG, logger="tulu_recipes.generation.executor")
    items = [{"q": "transient"}, {"q": "fatal"}, {"q": "ok"}]
    summary = run_items(items, work, out, retry=RetryPolicy(max_retries=1, base_delay=0), progress=False)
    assert (summary.done, summary.failed, summary.retries) == (1, 2, 1)
    written = out.read_text() + failures_path(out).read_text()
    assert KEY not in written and KEY not in caplog.text
    assert json.loads(out.read_text())["output"] == {"text": f"echo {REDACTED}"}
    errors = sorted(json.loads(line)["error"] for line in failures_path(out).open())
    assert errors == [
        f"RuntimeError('client error with api_key={REDACTED}')",
        f"TransientError(\"503 from upstream; request headers: {{'Authorization': 'Bearer {REDACTED}'}}\")",
    ]


def test_openai_backend_errors_never_quote_the_key_it_sent(monkeypatch):
    """The variable's name does not say "key": the backend remembers the value it put in the header."""
    monkeypatch.setenv("TULU_TEST_LLM", "sk-loopback-key-0123456789")

    def echo_header(request):
        return Reply(status=403, raw=b"forbidden: sk-loopback-key-0123456789")

    with ChatServer(echo_header) as server:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, api_key_env="TULU_TEST_LLM"))
        with pytest.raises(FatalError) as info:
            backend.generate([{"role": "user", "content": "x"}])
    assert server.auth_headers == ["Bearer sk-loopback-key-0123456789"]
    message = str(info.value)  # whichever HTTP client: the status and the body, with the key cut out
    assert "403" in message and f"forbidden: {REDACTED}" in message and "sk-loopback" not in message
