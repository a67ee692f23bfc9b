"""A generation task's model calls through datatrove's ``InferenceRunner`` (``inference_server`` is set).

What datatrove does, and we do not re-implement: per task, ``InferenceRunner`` starts the model server
(``vllm serve`` or SGLang on the task's GPUs, a ``custom`` script, or an ``endpoint`` already running), waits until
it answers ``/v1/models``, keeps up to ``max_concurrent_generations`` requests in flight, retries dropped
connections, stops the server at the end of the task, and writes each document with its results
(``inference/<rank>/<model>/``, a log of that run).

What stays ours, and why: a task serves one model, so its items are grouped by model (the preference pool: one server
after the other; synthesis and persona-IF: one model writes and answers). Hosted APIs (the pool's GPT-4o, the judge) are
no model to serve: they keep their own backend (``inference_config.served``). Each item is a ``Document`` whose id is
the item's stable id; the rollout runs the stage's own per-item coroutine (prompt building, per-item seeds, empty-answer
checks) on the generation event loop with the executor's retries (``call_with_retries``) and a backend whose requests
are the bodies the ``openai`` backend sends (``chat_request_body``), handed to datatrove's ``generate`` callback. Each
finished item is appended to the task's item cache, the same ``{"id", "input", "output"}`` lines the embedded executor
writes, so a killed task loses at most the items in flight and a rerun asks only for the rest (datatrove's own
checkpoints resume by document position and would hold a second copy). The stage's entry point then runs on the task's
rows with backends that only read that cache: judging, pairing, verification and the output rows are today's code, so
the bytes are the embedded path's. An item that still fails is counted as failed, and the task is re-opened on the next
run, as before.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.inference.run_inference import InferenceConfig, InferenceRunner
from datatrove.pipeline.inference.types import InferenceError, ServerError
from datatrove.pipeline.writers import JsonlWriter

from tulu_recipes.generation import aio, if_preferences, preferences, synthesize
from tulu_recipes.generation.backends import (
    Completion,
    FatalError,
    ModelSpec,
    TransientError,
    chat_request_body,
    make_backend,
)
from tulu_recipes.generation.executor import (
    RetryPolicy,
    _Appender,
    call_with_retries,
    item_id,
    read_records,
    repair_jsonl,
)
from tulu_recipes.secrets import scrub_error

from .inference_config import InferenceRunnerConfig, served

logger = logging.getLogger(__name__)

Worker = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]  # the stage's per-item coroutine function


@dataclass(frozen=True)
class ModelCalls:
    """One served model's items of a task, the stage's per-item function and the cache it fills."""

    specs: tuple[ModelSpec, ...]  # the specs of the per-item function's calls; the first served one names the model
    served: tuple[bool, ...]  # per spec: answered by the runner's server, or by the spec's own backend (a hosted API)
    items: list[dict[str, Any]]
    worker: Callable[[tuple[Any, ...]], Worker]  # one backend per spec -> the stage's per-item function
    cache: Path

    def pairs(self) -> list[tuple[ModelSpec, bool]]:
        return list(zip(self.specs, self.served, strict=True))


def _spec(value: Any) -> ModelSpec:
    return ModelSpec.from_dict(value)


def plan(stage: str, config: Any, inference: InferenceRunnerConfig) -> list[ModelCalls]:
    """The model calls of one task's shard config, grouped by served model; caches named as the stage names them."""
    if stage in ("synthesize", "if-preferences"):
        module, first = (synthesize, "prompt_model") if stage == "synthesize" else (if_preferences, "rewrite_model")
        specs = (_spec(getattr(config, first)), _spec(config.response_model or getattr(config, first)))
        flags = tuple(served(spec, inference) for spec in specs)
        if not any(flags):
            return []
        if stage == "synthesize":
            inputs = synthesize.load_personas(config.personas, config.persona_column, config.persona_split,
                                              config.max_personas)  # fmt: skip
        else:
            inputs = if_preferences.load_rows(config.prompts, config.max_prompts)
        cache = Path(config.cache_path or f"{config.output_path}.cache.jsonl")
        return [ModelCalls(specs, flags, module.build_items(config, inputs), lambda b: module.make_worker(*b), cache)]
    prompts = preferences.load_prompts(config.prompts, config.prompt_column, config.prompt_split, config.max_prompts)
    items = preferences.completion_items(config, prompts)
    pool = [_spec(m) for m in [*config.models, *([config.on_policy_model] if config.on_policy_model else [])]]
    cache_dir = Path(config.cache_dir) if config.cache_dir else Path(config.output_path).parent
    cache = cache_dir / f"{Path(config.output_path).name}.completions.jsonl"
    calls = []
    for spec in {s.name: s for s in pool if served(s, inference)}.values():
        mine = [item for item in items if item["model"] == spec.name]
        worker = (lambda name: lambda b: preferences.make_completion_worker({name: b[0]}))(spec.name)
        calls.append(ModelCalls((spec,), (True,), mine, worker, cache))
    return calls


class RunnerBackend:
    """A backend for one rollout: the ``openai`` backend's request body, sent by datatrove's ``generate`` callback.

    ``agenerate`` runs on the generation event loop (the stage's per-item coroutine) and awaits the callback on the
    runner's event loop."""

    def __init__(self, spec: ModelSpec, generate: Callable, loop: asyncio.AbstractEventLoop) -> None:
        self.spec, self._generate, self._loop = spec, generate, loop

    async def agenerate(
        self, messages: list[dict[str, str]], *, seed: int | None = None, **overrides: Any
    ) -> Completion:
        body = chat_request_body(self.spec, messages, seed=seed, **overrides)
        try:
            result = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._generate(body), self._loop))
        except InferenceError as err:  # datatrove's: a 4xx, or a request that failed its own retries
            message = scrub_error(str(err.error))
            raise (FatalError if "BadRequestError" in message else TransientError)(message) from None
        usage = result.usage or {}
        return Completion(
            text=result.text,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=result.finish_reason,
        )


class CachedOnly:
    """What the stage's entry point gets for a served model: the answers are in the cache already; an item that is
    not (it failed in the runner) fails again here, so it is counted and retried by the next run."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    async def agenerate(self, *args: Any, **kwargs: Any) -> Completion:
        raise FatalError(f"{self.spec.name}: no answer from datatrove's inference runner (see the task log)")


def _attempt(work: Worker, item: dict[str, Any], key: str, retry: RetryPolicy) -> dict[str, Any] | None:
    """``work(item)`` on the generation event loop with the executor's retries; None (logged) when it still fails.
    A ``ServerError`` (the server died) propagates: datatrove fails the task, and the rerun starts a new server."""
    call = call_with_retries(lambda: work(item), key, retry, reraise=(ServerError,))
    output, error, retries = aio.run(call)
    if error is not None:
        logger.warning("item %s failed after %d retries: %s", key, retries, scrub_error(repr(error)))
    return output


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def run_model(calls: ModelCalls, config: Any, inference: InferenceRunnerConfig, folder: Path, rank: int,
              world_size: int) -> int:  # fmt: skip
    """Ask the served model for the items not yet in the cache, through one ``InferenceRunner``; returns how many
    were asked (0: no server is started)."""
    repair_jsonl(calls.cache)
    done = {record["id"] for record in read_records(calls.cache)}
    todo = list({item_id(item): item for item in calls.items if item_id(item) not in done}.items())
    if not todo:
        return 0
    spec = next(s for s, flag in calls.pairs() if flag)
    own = {s.name: make_backend(s) for s, flag in calls.pairs() if not flag}
    settings = copy.deepcopy(inference.inference_settings or {})  # datatrove's custom server edits model_kwargs
    key_env = spec.api_key_env if inference.inference_server == "endpoint" else None
    server = InferenceConfig(
        server_type=inference.inference_server,
        model_name_or_path=spec.model_id,
        endpoint_url=inference.inference_endpoint_url,
        api_key=os.environ.get(key_env) if key_env else None,  # read in the task, never written
        **settings,
    )
    retry = RetryPolicy(config.max_retries, config.retry_base_delay, config.retry_max_delay, seed=config.seed)

    @contextmanager
    def shared() -> Iterator[dict[str, Any]]:
        pool = ThreadPoolExecutor(max_workers=server.max_concurrent_documents, thread_name_prefix="rollout")
        cache = _Appender(calls.cache)
        try:
            yield {"pool": pool, "cache": cache}
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            cache.close()

    async def rollout(document: Document, generate: Callable, pool: ThreadPoolExecutor, cache: _Appender) -> Any:
        loop = asyncio.get_running_loop()
        item = document.metadata["item"]
        work = calls.worker(
            tuple(RunnerBackend(s, generate, loop) if flag else own[s.name] for s, flag in calls.pairs())
        )
        output = await loop.run_in_executor(pool, _attempt, work, item, document.id, retry)
        if output is not None:
            cache.write({"id": document.id, "input": item, "output": output})
        return output

    runner = InferenceRunner(
        rollout,
        server,
        JsonlWriter(str(folder / "inference" / f"{rank:05d}" / _slug(spec.name)), compression=None),
        shared_context=shared,
    )
    runner.run((Document(text="", id=key, metadata={"item": item}) for key, item in todo), rank, world_size)
    return len(todo)


def run_task(stage: str, config: Any, inference: InferenceRunnerConfig, folder: Path, rank: int,
             world_size: int) -> dict[str, Any]:  # fmt: skip
    """Every served model of the task through datatrove's runner, one after the other; returns the backends the
    stage's entry point gets instead of its own (the answers are then read from the caches)."""
    backends: dict[str, Any] = {}
    for calls in plan(stage, config, inference):
        run_model(calls, config, inference, folder, rank, world_size)
        backends.update({spec.name: CachedOnly(spec) for spec in calls.specs})
    if stage == "preferences" and config.judge_model:
        backends.pop(_spec(config.judge_model).name, None)  # a pool model that also judges: its own backend judges
    return backends
