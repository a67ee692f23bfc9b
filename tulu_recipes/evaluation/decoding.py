"""Batched chat-prompt decoding with a transformers model: the one loop evaluation and the quickstart share.

Each prompt is rendered with the tokenizer's chat template (`add_generation_prompt=True`; a trailing assistant
message is an answer prefix the model continues, such as GSM8K's `Answer:`) and tokenized without
added special tokens, as Tülu 3 models were trained (recipe doc §1.1); batches are left-padded and decoded
without special tokens. `transformers.generate` does the decoding; this module only batches chat prompts around
it (no maintained helper does that for chat messages with a progress bar).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase


def chat_prompt_text(tokenizer: PreTrainedTokenizerBase, messages: Sequence[dict]) -> str:
    """The rendered prompt: the chat template with its generation prompt; a trailing assistant message is a
    prefix the model continues, appended after the generation prompt (OLMES's `assistant_prefix`)."""
    messages = list(messages)
    prefix = ""
    if messages and messages[-1]["role"] == "assistant":
        prefix = messages.pop()["content"]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + prefix


@torch.no_grad()
def generate_chat(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[list[dict]],
    max_new_tokens: int = 48,
    batch_size: int = 64,
    num_return_sequences: int = 1,
    progress: str | None = None,
    **sampling: Any,
) -> list[list[str]]:
    """`num_return_sequences` completions per chat prompt, in prompt order; greedy unless `sampling` says
    otherwise (e.g. ``do_sample=True, temperature=1.0``). `progress` names a tqdm bar over the prompts."""
    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    sampling.setdefault("do_sample", False)
    out: list[list[str]] = []
    bar = tqdm(total=len(prompts), desc=progress, unit="prompt", disable=progress is None)
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            texts = [chat_prompt_text(tokenizer, p) for p in chunk]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            generated = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                num_return_sequences=num_return_sequences,
                pad_token_id=pad_id,
                eos_token_id=tokenizer.eos_token_id,
                **sampling,
            )
            decoded = tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
            n = num_return_sequences
            out.extend(decoded[i : i + n] for i in range(0, len(decoded), n))
            bar.update(len(chunk))
    finally:
        bar.close()
        tokenizer.padding_side = side
        model.train(was_training)
    return out


def generate_greedy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[list[dict]],
    max_new_tokens: int = 48,
    batch_size: int = 64,
) -> list[str]:
    """One greedy completion per chat prompt, decoded without special tokens."""
    return [c[0] for c in generate_chat(model, tokenizer, prompts, max_new_tokens, batch_size)]
