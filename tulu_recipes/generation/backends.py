"""LLM backends behind one small interface: an OpenAI-compatible HTTP endpoint, vLLM offline, transformers.

Rule: every backend takes a list of chat messages and returns a :class:`Completion`. Failures that are worth
retrying (HTTP 408/409/429/5xx, timeouts, dropped connections, unparsable bodies) raise :class:`TransientError`;
failures that will not go away (any other HTTP 4xx, a missing API key) raise :class:`FatalError`.
API keys are read from the environment variable named in the spec, at call time, and never stored; error
messages pass through `tulu_recipes.secrets.scrub_error`, so a server that echoes the request cannot put the key
into an exception (the executor scrubs again, for any backend and HTTP client).

The HTTP backend is the official ``openai`` client: connection pooling, timeouts, and its retries of 408/409/429/5xx
and dropped connections with exponential backoff that honours ``Retry-After`` (``ModelSpec.max_retries``; 0 hands
every retry to the executor). The key reaches the client as a callable, which the client calls before each request.
Requests go through one ``openai.AsyncOpenAI`` per model and event loop (``agenerate``; ``generate`` waits for it on
the generation loop of :mod:`.aio`), on the SDK's aiohttp transport (``openai.DefaultAioHttpClient``, the
``openai[aiohttp]`` extra): the default httpx transport's async pool checks every pooled connection's socket on each
request, which at 64 connections cost more CPU than the sync client. The SDK's connection limit (1,000) stays: the
executor's semaphore bounds the requests in flight; there is no HTTP/2 (the aiohttp transport speaks HTTP/1.1, as
``vllm serve`` does). The sync ``openai.OpenAI`` stays for the Batch API's few calls (``OpenAIBackend.client``).
Ours, on top: the request body (built once, so the Batch API judge sends byte-for-byte the same requests as the
synchronous one), the strict reading of ``choices[0].message.content`` shared with the Batch API's output lines, and
the mapping of the client's exceptions onto the ``TransientError``/``FatalError`` split the executor retries by.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Protocol

from tulu_recipes.secrets import remember, scrub_error

from . import aio

Messages = list[dict[str, str]]


class GenerationError(Exception):
    """Base class of every backend failure."""


class TransientError(GenerationError):
    """A failure that may succeed on retry (rate limit, server error, timeout, malformed output)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MalformedOutputError(TransientError):
    """The model answered, but not in a form the caller can use (e.g. an unparsable judgment)."""


class FatalError(GenerationError):
    """A failure that retrying cannot fix (bad request, auth error, misconfiguration)."""


@dataclass
class Completion:
    """One generated text plus token usage (0 where the backend does not report it)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


@dataclass
class ModelSpec:
    """How to reach one model. Built from a recipe dict such as
    ``{name: gpt-4o, backend: openai, base_url: https://..., api_key_env: OPENAI_API_KEY}``."""

    name: str = field(metadata={"help": "Label written into the outputs (e.g. chosen_model)."})
    backend: str = field(default="openai", metadata={"help": "One of: openai, vllm, transformers."})
    model: str | None = field(
        default=None, metadata={"help": "Model id sent to the endpoint, or a local path; defaults to name."}
    )
    base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible base URL, e.g. .../v1."})
    api_key_env: str | None = field(
        default=None,
        metadata={"help": "Name of the environment variable holding the API key (never the key)."},
    )
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling p."})
    max_tokens: int = field(default=2048, metadata={"help": "Maximum new tokens per completion."})
    timeout: float = field(default=120.0, metadata={"help": "Per-request timeout in seconds (HTTP backend)."})
    max_retries: int = field(
        default=2,
        metadata={
            "help": "Retries inside the openai client on 408/409/429/5xx, timeouts and dropped connections, with its "
            "backoff honouring Retry-After (2 is the client's default); the executor's retries come on top."
        },
    )
    seed: int | None = field(default=None, metadata={"help": "Sampling seed passed to the backend, if any."})
    extra_body: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "Extra JSON fields for each request (HTTP backend)."}
    )
    engine_kwargs: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "Keyword arguments for vllm.LLM or from_pretrained."}
    )

    @classmethod
    def from_dict(cls, spec: dict[str, Any] | ModelSpec) -> ModelSpec:
        """Build a spec, rejecting unknown keys so that typos in a recipe fail loudly."""
        if isinstance(spec, ModelSpec):
            return spec
        known = {f.name for f in fields(cls)}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown model spec keys {sorted(unknown)}; known: {sorted(known)}")
        if "name" not in spec:
            raise ValueError(f"model spec needs a 'name': {spec}")
        return cls(**spec)

    @property
    def endpoint(self) -> str:
        """Where requests go, for messages: the base URL, or the local backend and model."""
        return self.base_url or f"{self.backend}:{self.model or self.name}"

    @property
    def model_id(self) -> str:
        return self.model or self.name


class Backend(Protocol):
    spec: ModelSpec

    def generate(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> Completion:
        """Return one completion for ``messages``; ``overrides`` replace spec sampling fields."""
        ...

    async def agenerate(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> Completion:
        """``generate`` for a coroutine (the pipelines' item runners): the same completion."""
        ...


def _sampling(spec: ModelSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    params = {"temperature": spec.temperature, "top_p": spec.top_p, "max_tokens": spec.max_tokens}
    unknown = set(overrides) - set(params)
    if unknown:
        raise ValueError(f"unknown sampling overrides {sorted(unknown)}")
    params.update(overrides)
    return params


class OpenAIBackend:
    """Chat-completions over HTTP (vLLM ``serve``, TGI, hosted APIs) through the official ``openai`` client."""

    def __init__(self, spec: ModelSpec) -> None:
        if not spec.base_url:
            raise FatalError(f"model {spec.name!r}: the openai backend needs base_url")
        self.spec = spec
        self._async: tuple[asyncio.AbstractEventLoop, Any] | None = None

    @cached_property
    def client(self) -> Any:
        """The synchronous ``openai.OpenAI``, for the Batch API's file and batch calls."""
        return openai_client(self.spec)

    def _async_client(self) -> Any:
        """This backend's ``openai.AsyncOpenAI`` on the running loop (its connection pool belongs to that loop)."""
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            client = async_openai_client(self.spec)
            aio.close_at_exit(client)
            weakref.finalize(self, aio.close_soon, loop, client).atexit = False
            self._async = (loop, client)
        return self._async[1]

    def request_body(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> dict[str, Any]:
        """The JSON body of one chat-completions request (also a Batch API input line's ``body``)."""
        return chat_request_body(self.spec, messages, seed=seed, **overrides)

    async def agenerate(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> Completion:
        import httpx2

        body = self.request_body(messages, seed=seed, **overrides)
        client = self._async_client()
        with translate_errors():
            # The client's documented call for a raw request: its retries, timeouts and errors, without typing the
            # body into its request models and back (half its CPU per request); we read the answer ourselves.
            response = await client.post("/chat/completions", body=body, cast_to=httpx2.Response)
            content = await response.aread()
        return parse_chat_response(content)

    def generate(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> Completion:
        return aio.run(self.agenerate(messages, seed=seed, **overrides))


def _quiet_httpx() -> None:
    quiet = logging.getLogger("httpx2")
    if quiet.level == logging.NOTSET:  # one INFO line per request would drown the run's own log
        quiet.setLevel(logging.WARNING)


def _key_reader(spec: ModelSpec) -> Callable[[], str]:
    """The key from ``api_key_env``, read on every call: a rotated key is the one the next request sends."""
    variable = spec.api_key_env

    def api_key() -> str:
        key = os.environ.get(variable) if variable else None
        if not key:
            raise FatalError(f"environment variable {variable} is not set")
        remember(key)  # its name need not say "key": scrubbers must know the value
        return key

    return api_key


def chat_request_body(spec: ModelSpec, messages: Messages, *, seed: int | None = None, **overrides: Any) -> dict:
    """The chat-completions body for ``spec``: the same bytes whichever client sends it (ours, the Batch API's
    input lines, datatrove's inference runner)."""
    body: dict[str, Any] = {"model": spec.model_id, "messages": messages, **_sampling(spec, overrides)}
    seed = spec.seed if seed is None else seed
    if seed is not None:
        body["seed"] = seed
    body.update(spec.extra_body)
    return body


def openai_client(spec: ModelSpec) -> Any:
    """An ``openai.OpenAI`` for ``spec``: its timeout and retries, the key read from ``api_key_env`` per request."""
    import openai

    _quiet_httpx()
    if not spec.api_key_env:
        # A local server without auth: as before, no Authorization header at all (the client insists on a key).
        http_client = openai.DefaultHttpxClient(event_hooks={"request": [_drop_authorization]})
        return openai.OpenAI(
            api_key="unused",
            base_url=spec.base_url,
            timeout=spec.timeout,
            max_retries=spec.max_retries,
            http_client=http_client,
        )
    api_key = _key_reader(spec)
    return openai.OpenAI(api_key=api_key, base_url=spec.base_url, timeout=spec.timeout, max_retries=spec.max_retries)


def async_openai_client(spec: ModelSpec) -> Any:
    """An ``openai.AsyncOpenAI`` for ``spec`` on the SDK's aiohttp transport: the same timeout, retries and key
    reading as `openai_client`."""
    import openai

    _quiet_httpx()
    hooks = {} if spec.api_key_env else {"request": [_adrop_authorization]}
    http_client = openai.DefaultAioHttpClient(event_hooks=hooks)
    if not spec.api_key_env:
        api_key: Any = "unused"
    else:
        read = _key_reader(spec)

        async def api_key() -> str:
            return read()

    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=spec.base_url,
        timeout=spec.timeout,
        max_retries=spec.max_retries,
        http_client=http_client,
    )


def _drop_authorization(request: Any) -> None:
    request.headers.pop("Authorization", None)


async def _adrop_authorization(request: Any) -> None:
    request.headers.pop("Authorization", None)


@contextmanager
def translate_errors() -> Iterator[None]:
    """The openai client's exceptions as ``TransientError`` (worth retrying) or ``FatalError``, scrubbed."""
    import openai

    try:
        yield
    except openai.APIStatusError as err:
        status = err.status_code
        detail = scrub_error(err.response.text[:300])
        if status in (408, 409, 429) or status >= 500:
            retry_after = _parse_retry_after(err.response.headers.get("Retry-After"))
            raise TransientError(f"HTTP {status}: {detail}", retry_after=retry_after) from None
        raise FatalError(f"HTTP {status}: {detail}") from None
    except openai.APIConnectionError as err:  # timeouts included
        raise TransientError(scrub_error(f"request failed: {type(err).__name__}: {_root_cause(err)!r}")) from None
    except openai.OpenAIError as err:
        raise FatalError(scrub_error(f"openai client: {err}")) from None


def _root_cause(err: BaseException) -> BaseException:
    """The first exception of the chain (e.g. ``ConnectionRefusedError``): transports wrap it in their own, and the
    aiohttp transport even reports a refused connection as a connect timeout."""
    for _ in range(10):
        below = err.__cause__ or err.__context__
        if below is None:
            break
        err = below
    return err


def _parse_retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def parse_chat_response(raw: bytes | dict[str, Any]) -> Completion:
    """Read ``choices[0].message.content`` and ``usage`` of a response body (bytes, or a Batch API line's parsed
    ``response.body``); anything else is a malformed answer."""
    try:
        data = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
        choice = data["choices"][0]
        text = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        shown = raw[:200] if isinstance(raw, (bytes, str)) else json.dumps(raw)[:200]
        raise MalformedOutputError(scrub_error(f"malformed chat response: {shown!r}")) from err
    if not isinstance(text, str):
        raise MalformedOutputError(scrub_error(f"completion content is not text: {text!r}"))
    usage = data.get("usage") or {}
    return Completion(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=choice.get("finish_reason"),
    )


class TransformersBackend:
    """``model.generate`` on a local checkpoint. One request at a time (a lock guards the model)."""

    def __init__(self, spec: ModelSpec) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(spec.model_id)
        self.model = AutoModelForCausalLM.from_pretrained(spec.model_id, **spec.engine_kwargs)
        self.model.eval()
        self._lock = threading.Lock()

    async def agenerate(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> Completion:
        return await asyncio.to_thread(self.generate, messages, seed=seed, **overrides)

    def generate(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> Completion:
        import torch

        params = _sampling(self.spec, overrides)
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        do_sample = params["temperature"] > 0
        kwargs: dict[str, Any] = {"max_new_tokens": params["max_tokens"], "do_sample": do_sample}
        if do_sample:
            kwargs.update(temperature=params["temperature"], top_p=params["top_p"])
        pad_id = self.tokenizer.pad_token_id
        kwargs["pad_token_id"] = pad_id if pad_id is not None else self.tokenizer.eos_token_id
        seed = self.spec.seed if seed is None else seed
        with self._lock, torch.no_grad():
            if seed is not None:
                torch.manual_seed(seed)
            output = self.model.generate(**inputs, **kwargs)
        new_tokens = output[0, inputs["input_ids"].shape[1] :]
        eos = self.tokenizer.eos_token_id
        finished = eos is not None and len(new_tokens) > 0 and int(new_tokens[-1]) == eos
        return Completion(
            text=self.tokenizer.decode(new_tokens, skip_special_tokens=True),
            prompt_tokens=int(inputs["input_ids"].shape[1]),
            completion_tokens=int(new_tokens.shape[0]),
            finish_reason="stop" if finished else "length",
        )


class VLLMBackend:
    """vLLM's offline engine (``vllm.LLM.chat``), imported lazily. Requests are served one at a time; for
    throughput, run ``vllm serve`` and use the openai backend, which the executor calls concurrently."""

    def __init__(self, spec: ModelSpec) -> None:
        try:
            from vllm import LLM
        except ImportError as err:
            raise FatalError("the vllm backend needs `pip install tulu-recipes[vllm]`") from err
        self.spec = spec
        self.llm = LLM(model=spec.model_id, **spec.engine_kwargs)
        self._lock = threading.Lock()

    async def agenerate(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> Completion:
        return await asyncio.to_thread(self.generate, messages, seed=seed, **overrides)

    def generate(self, messages: Messages, *, seed: int | None = None, **overrides: Any) -> Completion:
        from vllm import SamplingParams

        params = _sampling(self.spec, overrides)
        sampling = SamplingParams(
            temperature=params["temperature"],
            top_p=params["top_p"],
            max_tokens=params["max_tokens"],
            seed=self.spec.seed if seed is None else seed,
        )
        with self._lock:
            result = self.llm.chat([messages], sampling, use_tqdm=False)[0]
        out = result.outputs[0]
        return Completion(
            text=out.text,
            prompt_tokens=len(result.prompt_token_ids or []),
            completion_tokens=len(out.token_ids),
            finish_reason=out.finish_reason,
        )


BACKENDS: dict[str, type] = {
    "openai": OpenAIBackend,
    "transformers": TransformersBackend,
    "vllm": VLLMBackend,
}


def make_backend(spec: dict[str, Any] | ModelSpec) -> Backend:
    """Instantiate the backend named by ``spec['backend']``."""
    model_spec = ModelSpec.from_dict(spec)
    if model_spec.backend not in BACKENDS:
        raise ValueError(f"unknown backend {model_spec.backend!r}; choose from {sorted(BACKENDS)}")
    return BACKENDS[model_spec.backend](model_spec)
