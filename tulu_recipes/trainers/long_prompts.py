"""Drop RLVR training prompts over `max_prompt_length` tokens, as the release's dataset filter did for PPO and GRPO.

TRL 1.16 removed its own `max_prompt_length` (it no longer truncates or filters prompts), and a truncated prompt
would train on a question with its start cut off, so the release's rule is applied once, after the trainer has
its tokenizer and chat template: the prompt as the policy sees it, template included.
"""

from __future__ import annotations

import logging
from typing import Any

from datasets import Dataset

logger = logging.getLogger(__name__)

MAX_PROMPT_HELP = (
    "Drop training prompts longer than this many tokens (chat template included), as the release did "
    "(`--max_prompt_token_length 2048`); `null` keeps every prompt."
)


def drop_long_prompts(trainer: Any) -> None:
    """Replace `trainer.train_dataset` by its rows whose tokenized prompt fits `trainer.args.max_prompt_length`."""
    limit = getattr(trainer.args, "max_prompt_length", None)
    if limit is None or not isinstance(trainer.train_dataset, Dataset):
        return
    before = len(trainer.train_dataset)
    keep = []
    for start in range(0, before, 512):  # select() by index: no dataset fingerprint of a closure over the trainer
        prompt_ids, _, _ = trainer._tokenize_prompts(trainer.train_dataset[start : start + 512]["prompt"])
        keep.extend(start + i for i, ids in enumerate(prompt_ids) if len(ids) <= limit)
    if len(keep) < before:
        trainer.train_dataset = trainer.train_dataset.select(keep)
        dropped = before - len(keep)
        logger.warning("Dropped %d of %d prompts longer than max_prompt_length=%d tokens", dropped, before, limit)
    if len(trainer.train_dataset) == 0:
        raise ValueError(f"every training prompt is longer than max_prompt_length={limit} tokens")
