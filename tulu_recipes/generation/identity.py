"""Hard-coded identity conversations (paper §3.1: a small hand-written set, repeated in SFT).

Rule: each template is a ``{"user", "assistant"}`` pair containing ``{model_name}`` and ``{developer}``;
both are filled by plain string replacement. Templates live in ``templates/identity.jsonl`` (editable).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .prompts import template_path


def load_identity_templates(path: str | Path | None = None) -> list[dict[str, str]]:
    """Read the ``{"user", "assistant"}`` templates (the packaged 24 by default)."""
    path = Path(path) if path is not None else template_path("identity.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        if set(row) != {"user", "assistant"}:
            raise ValueError(f"{path}: identity templates need exactly user/assistant keys, got {sorted(row)}")
    return rows


def fill(text: str, model_name: str, developer: str) -> str:
    return text.replace("{model_name}", model_name).replace("{developer}", developer)


def identity_conversations(
    model_name: str, developer: str, repeat: int = 1, templates_path: str | Path | None = None
) -> list[dict[str, Any]]:
    """Messages-format rows for every template, each repeated ``repeat`` times (the paper used 10)."""
    if not model_name or not developer:
        raise ValueError("identity conversations need both a model name and a developer")
    rows = []
    for template in load_identity_templates(templates_path):
        messages = [
            {"role": "user", "content": fill(template["user"], model_name, developer)},
            {"role": "assistant", "content": fill(template["assistant"], model_name, developer)},
        ]
        rows.extend({"messages": messages, "source": "identity"} for _ in range(repeat))
    return rows
