"""Greedy completions for evaluation: vLLM when installed and a GPU is present, else batched transformers.

Both paths render each prompt with the model's chat template (`add_generation_prompt=True`, then the text of a
trailing assistant message, an answer prefix such as GSM8K's `Answer:`) and tokenize it
without added special tokens, as Tülu 3 models were trained (recipe doc §1.1), then decode greedily. The
transformers path runs `decoding.generate_greedy` (left padding, batched) on batches of similar length, with a
progress bar.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

logger = logging.getLogger("tulu_recipes")


@dataclass
class GenerationSettings:
    """How to decode: engine, length, batch size and dtype (greedy always)."""

    backend: str = "auto"
    max_new_tokens: int = 1024
    per_prompt_max_new_tokens: list[int] | None = None  # one limit per prompt (each task's own), over the above
    batch_size: int = 16
    dtype: str = "auto"
    chat_template: str | None = None
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    show_progress: bool = True
    vllm_subprocess: bool = True  # each model's vLLM engine in its own process (see evaluation/vllm_engine.py)


def resolve_backend(name: str) -> str:
    """`auto` picks vLLM when it is importable and CUDA is available, transformers otherwise."""
    if name == "auto":
        return "vllm" if importlib.util.find_spec("vllm") is not None and torch.cuda.is_available() else "transformers"
    if name not in ("vllm", "transformers"):
        raise ValueError(f"unknown generation backend {name!r}; use auto, vllm or transformers")
    return name


def load_tokenizer(model_path: str, chat_template: str | None = None) -> Any:
    """The model's tokenizer; `chat_template` (a bundled name or a Jinja file) replaces its template."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if chat_template and chat_template != "model":  # `model`: keep the template saved with the model
        from tulu_recipes.chat_templates import load_chat_template

        tokenizer.chat_template = load_chat_template(chat_template).inference
    if not tokenizer.chat_template:
        raise ValueError(f"{model_path} has no chat template; set `chat_template` (e.g. tulu)")
    return tokenizer


def _transformers_generate(
    model_path: str, prompts: Sequence[list[dict]], settings: GenerationSettings, desc: str
) -> list[str]:
    from transformers import AutoModelForCausalLM

    from tulu_recipes.evaluation.decoding import chat_prompt_text, generate_greedy

    tokenizer = load_tokenizer(model_path, settings.chat_template)
    dtype = "auto" if settings.dtype == "auto" else getattr(torch, settings.dtype)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
    if torch.cuda.is_available():
        model = model.to("cuda")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    lengths = [len(chat_prompt_text(tokenizer, p)) for p in prompts]
    limits = prompt_limits(settings, len(prompts))
    outputs: list[str | None] = [None] * len(prompts)
    bar = tqdm(total=len(prompts), desc=desc, disable=not settings.show_progress, unit="prompt")
    for limit in sorted(set(limits)):  # a batch shares one generation limit
        group = [i for i in range(len(prompts)) if limits[i] == limit]
        order = sorted(group, key=lambda i: -lengths[i])  # longest first: memory trouble shows at once
        for start in range(0, len(order), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            texts = generate_greedy(model, tokenizer, [prompts[i] for i in idx], limit, len(idx))
            for i, text in zip(idx, texts, strict=True):
                outputs[i] = text
            bar.update(len(idx))
    bar.close()
    del model
    return [o or "" for o in outputs]


def prompt_limits(settings: GenerationSettings, count: int) -> list[int]:
    """The generation limit of each of `count` prompts: `per_prompt_max_new_tokens`, else `max_new_tokens`."""
    limits = settings.per_prompt_max_new_tokens
    if limits is None:
        return [settings.max_new_tokens] * count
    if len(limits) != count:
        raise ValueError(f"{len(limits)} per-prompt generation limits for {count} prompts")
    return list(limits)


def _vllm_generate(model_path: str, prompts: Sequence[list[dict]], settings: GenerationSettings) -> list[str]:
    from tulu_recipes.evaluation.vllm_engine import generate_here, generate_in_child

    return (generate_in_child if settings.vllm_subprocess else generate_here)(model_path, prompts, settings)


def generate(
    model_path: str, prompts: Sequence[list[dict]], settings: GenerationSettings, desc: str = "generating"
) -> list[str]:
    """One greedy completion per chat prompt, in prompt order."""
    if not prompts:
        return []
    backend = resolve_backend(settings.backend)
    logger.info("Generating %d completions with %s from %s", len(prompts), backend, model_path)
    if backend == "vllm":
        return _vllm_generate(model_path, prompts, settings)
    return _transformers_generate(model_path, prompts, settings, desc)
