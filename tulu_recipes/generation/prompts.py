"""Editable prompt templates: files under ``templates/`` (or a user directory that shadows them).

Rule: a template is plain text with ``$name`` placeholders (``string.Template``), so braces in prompts and
JSON need no escaping. A file in ``templates_dir`` wins over the packaged file of the same name.
"""

from __future__ import annotations

import string
from pathlib import Path

PACKAGED_DIR = Path(__file__).parent / "templates"


def template_path(name: str, templates_dir: str | Path | None = None) -> Path:
    """Where template ``name`` is read from: ``templates_dir/name`` if it exists, else the packaged copy."""
    if templates_dir is not None:
        candidate = Path(templates_dir) / name
        if candidate.exists():
            return candidate
    candidate = PACKAGED_DIR / name
    if not candidate.exists():
        raise FileNotFoundError(f"no template {name!r} in {templates_dir or '-'} or {PACKAGED_DIR}")
    return candidate


def load_template(name: str, templates_dir: str | Path | None = None) -> str:
    return template_path(name, templates_dir).read_text(encoding="utf-8")


def render(template: str, **values: str) -> str:
    """Fill ``$name`` placeholders; a missing value is an error, not a silent blank."""
    return string.Template(template).substitute(**values)
