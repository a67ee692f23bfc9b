"""Binarize scored candidates into one DPO preference pair (paper §5.2 step "binarize").

Rule: candidates without a score are ignored. Chosen = the highest score (a seeded random pick among equal
best). Rejected = a uniformly random candidate with a strictly lower score (at least ``min_margin`` lower),
so ties with the chosen are never paired. No such candidate -> no pair (``None``).
Output rows use TRL's implicit-prompt conversational format: ``chosen``/``rejected`` are full message lists
(prompt turns + the assistant answer), plus ratings and model names.

This function is pure and shared: the LLM-judge pipeline scores by mean rating; the CPU quickstart builds
on-policy pairs from the SFT model's samples scored by a verifier (correct = 1, wrong = 0).
"""

from __future__ import annotations

import random
from typing import Any


def build_preference_pair(
    prompt_messages: list[dict[str, str]],
    candidates: list[dict[str, Any]],
    rng: random.Random,
    min_margin: float = 0.0,
) -> dict[str, Any] | None:
    """``candidates``: dicts with ``text``, ``model`` and ``score`` (``None`` = unscored)."""
    scored = [c for c in candidates if c.get("score") is not None]
    if len(scored) < 2:
        return None
    best = max(c["score"] for c in scored)
    chosen = rng.choice([c for c in scored if c["score"] == best])
    lower = [c for c in scored if c["score"] < best and best - c["score"] >= min_margin]
    if not lower:
        return None
    rejected = rng.choice(lower)
    prompt = [dict(m) for m in prompt_messages]
    return {
        "chosen": prompt + [{"role": "assistant", "content": chosen["text"]}],
        "rejected": [dict(m) for m in prompt] + [{"role": "assistant", "content": rejected["text"]}],
        "chosen_rating": chosen["score"],
        "rejected_rating": rejected["score"],
        "chosen_model": chosen.get("model"),
        "rejected_model": rejected.get("model"),
    }
