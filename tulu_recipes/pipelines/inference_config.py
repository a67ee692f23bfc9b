"""The recipe keys that send a generation stage's model calls through datatrove's ``InferenceRunner``.

Only the keys and their one-line checks live here (no datatrove import unless a server is chosen), so a recipe
with a bad key stops before any work and the core install stays lean. The wiring itself is ``pipelines.inference``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from tulu_recipes.config import RecipeError

from . import executors

# datatrove's InferenceConfig.server_type values, less "dummy" (canned answers, for datatrove's own tests).
SERVERS = ("vllm", "sglang", "endpoint", "custom")
# InferenceConfig keys that the stage sets from its model specs: not settable through inference_settings.
OURS = frozenset({"server_type", "model_name_or_path", "endpoint_url", "api_key", "use_chat",
                  "default_generation_params", "rollouts_per_document"})  # fmt: skip
LOOPBACK = ("localhost", "127.0.0.1", "::1")
# Stage config fields naming two model specs that one InferenceRunner task serves as one model.
SAME_MODEL = {"synthesize": ("prompt_model", "response_model"), "if-preferences": ("rewrite_model", "response_model")}


@dataclass
class InferenceRunnerConfig:
    """Where a generation stage's model calls go: the stage's own backends (default), or datatrove's
    ``InferenceRunner`` with one model server per datatrove task."""

    inference_server: str | None = field(
        default=None,
        metadata={
            "help": "None: each model spec's own backend, as before (default). vllm / sglang: every datatrove task "
            "starts its own server of the model (datatrove's InferenceRunner; needs the GPU and vllm or sglang on the "
            "task's node); endpoint: a server already running at inference_endpoint_url; custom: a server script "
            "per task (inference_settings.model_kwargs.server_script). Needs a datatrove executor."
        },
    )
    inference_endpoint_url: str | None = field(
        default=None,
        metadata={
            "help": "inference_server: endpoint: the server's root URL (datatrove appends /v1/chat/completions)."
        },
    )
    inference_settings: dict | None = field(
        default=None,
        metadata={
            "help": "More keys of datatrove's InferenceConfig, e.g. {tp: 2, model_max_context: 8192, "
            "max_concurrent_generations: 256, server_log_folder: logs/vllm, model_kwargs: {gpu-memory-utilization: "
            "0.9}}; the model, URL and request parameters come from the stage's model specs."
        },
    )

    def __post_init__(self) -> None:
        check_inference(self)


def check_inference(config: InferenceRunnerConfig) -> None:
    """ValueError naming the key, before any work, for settings that cannot run."""
    server = config.inference_server
    if server is None:
        for key in ("inference_endpoint_url", "inference_settings"):
            if getattr(config, key):
                raise ValueError(f"{key} is set but inference_server is not")
        return
    if server not in SERVERS:
        raise ValueError(f"inference_server: unknown {server!r}; choose one of {', '.join(SERVERS)}")
    for module in ("datatrove", "httpx", "aiofiles"):  # the runner's readiness probe and document writes
        if not executors._installed(module):
            raise ValueError(
                f"inference_server: {server} needs {module}, which is not installed: {executors.INSTALL_HINT}"
            )
    if (server == "endpoint") != bool(config.inference_endpoint_url):
        raise ValueError("inference_endpoint_url goes with inference_server: endpoint, and only with it")
    settings = config.inference_settings or {}
    if not isinstance(settings, dict):
        raise ValueError("inference_settings must be a mapping of datatrove InferenceConfig keys")
    from datatrove.pipeline.inference.run_inference import InferenceConfig

    known = {f.name for f in dataclasses.fields(InferenceConfig)} - OURS
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(
            f"inference_settings: unknown key {unknown[0]!r}; datatrove's keys: {', '.join(sorted(known))}"
        )
    if server == "custom" and "server_script" not in (settings.get("model_kwargs") or {}):
        raise ValueError("inference_server: custom needs inference_settings.model_kwargs.server_script")
    InferenceConfig(server_type=server, model_name_or_path="-", **settings)  # datatrove's own range checks


def served(spec: Any, inference: InferenceRunnerConfig) -> bool:
    """Whether the runner's server answers this model spec's calls. ``endpoint``: the specs whose ``base_url`` is
    on that endpoint; a started server: every spec but hosted APIs (an ``openai`` spec whose ``base_url`` is on
    another host), which keep their own backend (the pool's GPT-4o, the judge)."""
    from tulu_recipes.generation.backends import ModelSpec

    spec = ModelSpec.from_dict(spec)
    if inference.inference_server == "endpoint":
        return bool(spec.base_url) and spec.base_url.startswith(inference.inference_endpoint_url.rstrip("/"))
    return spec.backend != "openai" or not spec.base_url or urlparse(spec.base_url).hostname in LOOPBACK


def check_stage(stage: str, config: Any, executor: executors.ExecutorConfig, inference: InferenceRunnerConfig) -> None:
    """RecipeError for combinations only the stage and the executor show: before any work."""
    if inference.inference_server is None:
        return
    if executor.executor == "embedded":
        raise RecipeError("inference_server needs a datatrove executor (executor: local, slurm or ray)")
    settings = inference.inference_settings or {}
    gpus = settings.get("tp", 1) * settings.get("dp", 1) * settings.get("pp", 1)
    if (
        inference.inference_server in ("vllm", "sglang")
        and executor.executor != "local"
        and executor.gpus_per_task < gpus
    ):
        raise RecipeError(
            f"inference_server: {inference.inference_server} with tp*dp*pp = {gpus} needs gpus_per_task >= {gpus} "
            f"(got {executor.gpus_per_task})"
        )
    if stage in SAME_MODEL:
        first, second = SAME_MODEL[stage]
        a, b = getattr(config, first), getattr(config, second) or getattr(config, first)
        ids = [(spec or {}).get("model") or (spec or {}).get("name") for spec in (a, b)]
        if ids[0] != ids[1] and all(spec and served(spec, inference) for spec in (a, b)):
            raise RecipeError(
                f"inference_server: a task serves one model; {first} ({ids[0]}) and {second} ({ids[1]}) differ"
            )
