"""The Tülu chat template renders exactly as the release (recipe doc §1.1) and masks exactly as §1.3."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from tulu_recipes.chat_templates import has_generation_markers, load_chat_template

EOS = "<|end_of_text|>"
CONVERSATION = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"},
]


@pytest.fixture(scope="module")
def tokenizer(tiny_base):
    return AutoTokenizer.from_pretrained(tiny_base)


@pytest.mark.parametrize("version", ["inference", "training"])
def test_tulu_renders_the_release_example(tokenizer, version):
    template = getattr(load_chat_template("tulu"), version)
    text = tokenizer.apply_chat_template(CONVERSATION, tokenize=False, chat_template=template)
    assert text == (f"<|system|>\nS\n<|user|>\nHi\n<|assistant|>\nHello!{EOS}\n<|user|>\n2+2?\n<|assistant|>\n4{EOS}")


@pytest.mark.parametrize("version", ["inference", "training"])
def test_generation_prompt_and_unknown_roles(tokenizer, version):
    template = getattr(load_chat_template("tulu"), version)
    messages = [{"role": "tool", "content": "ignored"}, {"role": "user", "content": "Q"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, chat_template=template)
    assert text == "<|user|>\nQ\n<|assistant|>\n"


def test_newline_to_eos_variant(tokenizer):
    template = load_chat_template("tulu_eos")
    for version in (template.inference, template.training):
        text = tokenizer.apply_chat_template(CONVERSATION, tokenize=False, chat_template=version)
        assert text == f"<|system|>\nS\n<|user|>\nHi\n<|assistant|>\nHello!{EOS}<|user|>\n2+2?\n<|assistant|>\n4{EOS}"


def test_only_training_versions_carry_markers():
    for name in ("tulu", "tulu_eos"):
        template = load_chat_template(name)
        assert has_generation_markers(template.training)
        assert not has_generation_markers(template.inference)


def test_template_by_path_and_unknown_name(tmp_path):
    path = tmp_path / "mine.jinja"
    path.write_text("{{ messages[0]['content'] }}")
    assert load_chat_template(str(path)).inference == "{{ messages[0]['content'] }}"
    with pytest.raises(ValueError, match="neither a bundled template"):
        load_chat_template("zephyr")


def test_assistant_mask_token_by_token(tokenizer):
    """Trained: content + EOS of every assistant turn. Masked: headers, system/user turns, newline after EOS."""
    out = tokenizer.apply_chat_template(
        CONVERSATION,
        chat_template=load_chat_template("tulu").training,
        return_assistant_tokens_mask=True,
        return_dict=True,
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    pieces = [(tokenizer.decode([i]), m) for i, m in zip(ids, mask, strict=True)]
    trained = "".join(p for p, m in pieces if m)
    assert trained == f"Hello!{EOS}4{EOS}"
    # Independent check in the release's way (§1.3): start from all-trained and mask [start_i, end_i) of every
    # non-assistant message; end_i is rendered with the generation prompt when an assistant turn follows.
    inference = load_chat_template("tulu").inference

    def length(messages, generation_prompt=False):
        text = tokenizer.apply_chat_template(
            messages, tokenize=False, chat_template=inference, add_generation_prompt=generation_prompt
        )
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    expected = [1] * len(ids)
    for i, message in enumerate(CONVERSATION):
        if message["role"] != "assistant":
            follows_assistant = i + 1 < len(CONVERSATION) and CONVERSATION[i + 1]["role"] == "assistant"
            start, end = (length(CONVERSATION[:i]) if i else 0), length(CONVERSATION[: i + 1], follows_assistant)
            expected[start:end] = [0] * (end - start)
    assert list(mask) == expected
    assert sum(mask) == len(tokenizer(f"Hello!{EOS}4{EOS}", add_special_tokens=False)["input_ids"])
