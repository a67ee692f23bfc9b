"""Chat templates: the Tülu template (inference and training versions) and the paper's newline->EOS ablation.

`load_chat_template("tulu")` returns both versions. The training version carries `{% generation %}` markers so
TRL's assistant-only loss (transformers' `return_assistant_tokens_mask`) trains exactly the content and EOS of
every assistant turn; it renders to the same text as the inference version. A path to a `.jinja` file works too:
it is used for both, and it needs generation markers for assistant-only loss.

`chat_template: model` keeps the template the model ships with (post-training an existing chat model); see
`model_chat_template` for how its training version is found. `smollm2` is SmolLM2-Instruct's own ChatML template
(verbatim) with a marked training version, so SFT on SmolLM2 trains each assistant turn's content and `<|im_end|>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

BUNDLED = ("tulu", "tulu_eos", "smollm2")
MODEL = "model"


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
        f"chat_template {name_or_path!r} is neither a bundled template ({', '.join(BUNDLED)}), `{MODEL}` (keep the "
        "model's own), nor an existing file"
    )


def model_chat_template(tokenizer: Any, source: str = "the model") -> ChatTemplate:
    """The template a tokenizer ships with, and a training version with generation markers where one is known.

    The training version is, in order: the template itself if it already has markers; the marked version of a
    bundled template it equals verbatim (e.g. SmolLM2's); TRL's own patched template for the families it knows
    (`trl.chat_template_utils.get_training_chat_template`, exact match). Otherwise it stays the unmarked
    template, and SFT with `assistant_only_loss` stops asking for a marked file (see `require_generation_markers`).
    """
    template = tokenizer.chat_template
    if isinstance(template, dict):
        template = template.get("default")
    if not template:
        raise ValueError(f"chat_template: {MODEL}, but {source} has no chat template; name one (e.g. tulu)")
    training = template
    if not has_generation_markers(template):
        bundled = next((n for n in BUNDLED if _read(n) == template), None)
        if bundled is not None:
            training = _read(f"{bundled}_training")
        else:
            from trl.chat_template_utils import get_training_chat_template

            try:
                training = get_training_chat_template(tokenizer) or template
            except ValueError:  # TRL knows no training version of this template
                training = template
    return ChatTemplate(MODEL, template, training)


def require_generation_markers(template: ChatTemplate) -> None:
    """Assistant-only loss needs `{% generation %}` markers; say how to supply them when the template has none."""
    if not has_generation_markers(template.training):
        raise ValueError(
            f"chat_template {template.name!r} has no {{% generation %}} markers and no known training version, "
            "so assistant-only loss cannot mask it: set `chat_template: path/to/marked.jinja` (the same template "
            "with the assistant content and end-of-turn token inside {% generation %}...{% endgeneration %}), "
            "or `assistant_only_loss: false`"
        )


def has_generation_markers(template: str) -> bool:
    return "generation" in template and "endgeneration" in template
