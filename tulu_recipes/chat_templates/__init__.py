"""Chat templates: the Tülu template (inference and training versions) and the paper's newline->EOS ablation.

`load_chat_template("tulu")` returns both versions. The training version carries `{% generation %}` markers so
TRL's assistant-only loss (transformers' `return_assistant_tokens_mask`) trains exactly the content and EOS of
every assistant turn; it renders to the same text as the inference version. A path to a `.jinja` file works too:
it is used for both, and it needs generation markers for assistant-only loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

BUNDLED = ("tulu", "tulu_eos")


@dataclass(frozen=True)
class ChatTemplate:
    name: str
    inference: str
    training: str


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.jinja").read_text(encoding="utf-8")


def load_chat_template(name_or_path: str) -> ChatTemplate:
    """A bundled template by name, or a user's Jinja file by path."""
    if name_or_path in BUNDLED:
        return ChatTemplate(name_or_path, _read(name_or_path), _read(f"{name_or_path}_training"))
    path = Path(name_or_path)
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        return ChatTemplate(str(path), text, text)
    raise ValueError(
        f"chat_template {name_or_path!r} is neither a bundled template ({', '.join(BUNDLED)}) nor an existing file"
    )


def has_generation_markers(template: str) -> bool:
    return "generation" in template and "endgeneration" in template
