"""Backends: the OpenAI-compatible HTTP client against a real loopback server, and transformers on a tiny model."""

from __future__ import annotations

import pytest

from tulu_recipes.generation.backends import (
    FatalError,
    MalformedOutputError,
    ModelSpec,
    OpenAIBackend,
    TransientError,
    make_backend,
)

try:
    from tests.openai_server import ChatServer, Reply, last_user_text
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply, last_user_text


def echo(request: dict) -> Reply:
    return Reply(content=f"echo: {last_user_text(request)}")


def test_openai_backend_roundtrip_sends_sampling_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_GEN_KEY", "sk-loopback")
    with ChatServer(echo) as server:
        spec = {
            "name": "m",
            "model": "served-id",
            "base_url": server.base_url,
            "api_key_env": "TEST_GEN_KEY",
            "temperature": 0.3,
            "max_tokens": 17,
            "extra_body": {"stop": ["###"]},
        }
        backend = make_backend(spec)
        out = backend.generate([{"role": "user", "content": "two words"}], seed=7, max_tokens=5)
    assert out.text == "echo: two words"
    assert (out.prompt_tokens, out.completion_tokens, out.finish_reason) == (2, 3, "stop")
    request = server.requests[0]
    assert request["model"] == "served-id"
    assert (request["temperature"], request["top_p"], request["max_tokens"], request["seed"]) == (0.3, 1.0, 5, 7)
    assert request["stop"] == ["###"]
    assert server.auth_headers == ["Bearer sk-loopback"]
    assert "sk-loopback" not in repr(backend.spec)  # the key is never stored


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (Reply(status=429, headers={"Retry-After": "3"}), TransientError, 3.0),
        (Reply(status=500), TransientError, None),
        (Reply(status=503), TransientError, None),
        (Reply(status=400), FatalError, None),
        (Reply(status=401), FatalError, None),
        (Reply(raw=b"<html>not json"), MalformedOutputError, None),
        (Reply(raw=b'{"choices": []}'), MalformedOutputError, None),
        (Reply(raw=b'{"choices": [{"message": {"content": null}}]}'), MalformedOutputError, None),
    ],
)
def test_openai_backend_classifies_failures(reply: Reply, error: type, retry_after: float | None) -> None:
    with ChatServer(lambda request: reply) as server:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, max_retries=0))
        with pytest.raises(error) as info:
            backend.generate([{"role": "user", "content": "x"}])
    assert issubclass(error, TransientError) == isinstance(info.value, TransientError)
    if retry_after is not None:
        assert info.value.retry_after == retry_after


def test_openai_backend_timeout_is_transient() -> None:
    with ChatServer(lambda request: Reply(content="late", delay=1.0)) as server:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, timeout=0.2, max_retries=0))
        with pytest.raises(TransientError):
            backend.generate([{"role": "user", "content": "x"}])


def test_connection_refused_is_transient() -> None:
    with ChatServer(echo) as server:
        url = server.base_url
    backend = OpenAIBackend(ModelSpec(name="m", base_url=url, timeout=2, max_retries=0))
    with pytest.raises(TransientError):
        backend.generate([{"role": "user", "content": "x"}])


def test_spec_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown model spec keys"):
        ModelSpec.from_dict({"name": "m", "temprature": 0.5})
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend({"name": "m", "backend": "nope"})
    with pytest.raises(FatalError, match="base_url"):
        make_backend({"name": "m"})
    monkeypatch.delenv("TEST_GEN_MISSING", raising=False)
    backend = make_backend({"name": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "TEST_GEN_MISSING"})
    with pytest.raises(FatalError, match="TEST_GEN_MISSING"):
        backend.generate([{"role": "user", "content": "x"}])


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 1-layer Llama and a word-level tokenizer trained on the fly, saved to a local folder."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-llama")
    corpus = ["the cat sat on the mat", "a dog ran to the park", "hello how are you today", "user assistant"] * 5
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["<unk>", "<pad>", "</s>"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>")
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}assistant {% endif %}"
    )
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return str(path)


def test_transformers_backend_on_tiny_local_model(tiny_model_dir: str) -> None:
    backend = make_backend({"name": "tiny", "backend": "transformers", "model": tiny_model_dir, "max_tokens": 6})
    messages = [{"role": "user", "content": "hello how are you"}]
    greedy = backend.generate(messages, temperature=0.0)
    assert greedy.prompt_tokens == 6  # "user hello how are you assistant", one token per word, no BOS
    assert 1 <= greedy.completion_tokens <= 6
    assert greedy.finish_reason in ("stop", "length")
    assert greedy.text == backend.generate(messages, temperature=0.0).text  # greedy is deterministic
    vocab = set(backend.tokenizer.get_vocab()) - {"<unk>", "<pad>", "</s>"}
    assert set(greedy.text.split()) <= vocab
    first = backend.generate(messages, seed=123)
    again = backend.generate(messages, seed=123)
    assert first.text == again.text and first.completion_tokens == again.completion_tokens


def test_the_openai_client_retries_429_and_5xx_itself_and_reads_the_key_per_request(monkeypatch) -> None:
    """max_retries=2 (the client's default): a 503 then a 429 are retried inside one `generate`; every attempt
    re-reads the key variable, so a key rotated between calls is the one sent next."""
    replies = iter([Reply(status=503), Reply(status=429, headers={"Retry-After": "0"}), Reply(content="third")])
    monkeypatch.setenv("TEST_GEN_ROTATED", "sk-first-key-000")
    with ChatServer(lambda request: next(replies, Reply(content="later"))) as server:
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, api_key_env="TEST_GEN_ROTATED"))
        assert backend.generate([{"role": "user", "content": "x"}]).text == "third"
        monkeypatch.setenv("TEST_GEN_ROTATED", "sk-second-key-00")
        assert backend.generate([{"role": "user", "content": "x"}]).text == "later"
        failing = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, max_retries=1))
        server.responder = lambda request: Reply(status=500)
        with pytest.raises(TransientError, match="HTTP 500"):
            failing.generate([{"role": "user", "content": "x"}])
    assert server.auth_headers == ["Bearer sk-first-key-000"] * 3 + ["Bearer sk-second-key-00", None, None]
    assert len(server.requests) == 6  # 3 + 1 + (1 + 1 retry)


def test_no_key_variable_sends_no_authorization_header() -> None:
    with ChatServer(echo) as server:
        make_backend({"name": "m", "base_url": server.base_url}).generate([{"role": "user", "content": "hi"}])
    assert server.auth_headers == [None]
