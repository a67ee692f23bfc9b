"""`chat_template: model`: the model's own template is kept; SFT finds a marked training version or says why not."""

from __future__ import annotations

import shutil
from importlib import resources

import pytest
from transformers import AutoTokenizer

from tulu_recipes.chat_templates import (
    load_chat_template,
    model_chat_template,
    require_generation_markers,
)
from tulu_recipes.config import RecipeError

CONVERSATION = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"},
]
SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"


@pytest.fixture(scope="module")
def smol_tokenizer(smollm2):
    return AutoTokenizer.from_pretrained(smollm2)


def test_bundled_smollm2_is_the_models_template_verbatim(smol_tokenizer):
    assert load_chat_template("smollm2").inference == smol_tokenizer.chat_template


@pytest.mark.parametrize(
    ("messages", "generation_prompt"),
    [
        (CONVERSATION, False),
        (CONVERSATION[:3], True),
        ([{"role": "system", "content": "Be brief."}, *CONVERSATION], False),
        ([{"role": "user", "content": "Q"}], True),
    ],
)
def test_marked_smollm2_renders_like_the_original(smol_tokenizer, messages, generation_prompt):
    marked = load_chat_template("smollm2").training
    kwargs = {"tokenize": False, "add_generation_prompt": generation_prompt}
    assert smol_tokenizer.apply_chat_template(messages, chat_template=marked, **kwargs) == (
        smol_tokenizer.apply_chat_template(messages, **kwargs)
    )


def test_model_template_kept_and_marked_version_found(smol_tokenizer):
    template = model_chat_template(smol_tokenizer)
    assert template.name == "model"
    assert template.inference == smol_tokenizer.chat_template  # what is saved with the trained model
    assert template.training == load_chat_template("smollm2").training
    require_generation_markers(template)  # SFT may run


def test_masks_on_a_multi_turn_chatml_conversation(smol_tokenizer):
    marked = model_chat_template(smol_tokenizer).training
    out = smol_tokenizer.apply_chat_template(
        CONVERSATION, chat_template=marked, return_assistant_tokens_mask=True, return_dict=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    expected = (
        SYSTEM + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"
    )
    assert smol_tokenizer.decode(ids) == expected
    trained = [i for i, m in zip(ids, mask, strict=True) if m]
    # Exactly the content and <|im_end|> of each assistant turn: no header, no newline, no user or system token.
    assert trained == smol_tokenizer("Hello!<|im_end|>4<|im_end|>", add_special_tokens=False).input_ids
    im_end = smol_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert sum(1 for i, m in zip(ids, mask, strict=True) if m and i == im_end) == 2
    assert sum(1 for i in ids if i == im_end) == 5


def test_trl_family_template_gets_trls_training_version(tiny_base):
    trl_templates = resources.files("trl") / "chat_templates"
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    tokenizer.chat_template = (trl_templates / "qwen2_5.jinja").read_text(encoding="utf-8")
    template = model_chat_template(tokenizer)
    assert template.inference == tokenizer.chat_template
    assert template.training == (trl_templates / "qwen2_5_training.jinja").read_text(encoding="utf-8")


def test_unknown_template_asks_for_a_marked_file(tiny_base):
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    tokenizer.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    template = model_chat_template(tokenizer)
    assert template.training == template.inference
    with pytest.raises(ValueError, match=r"chat_template: path/to/marked\.jinja"):
        require_generation_markers(template)


def test_sft_stage_stops_before_loading_the_model(tiny_base, tmp_path):
    from tulu_recipes.stages import sft

    model_dir = tmp_path / "unmarked"
    shutil.copytree(tiny_base, model_dir)
    (model_dir / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    argv = [
        "--model_name_or_path",
        str(model_dir),
        "--chat_template",
        "model",
        "--output_dir",
        str(tmp_path / "o"),
        "--dataset_name",
        "unused",
        "--use_cpu",
        "true",
        "--bf16",
        "false",
        "--report_to",
        "none",
    ]
    with pytest.raises(RecipeError, match="no \\{% generation %\\} markers"):
        sft.main(argv)


def test_model_without_template_is_a_clear_error(tiny_base):
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match="has no chat template"):
        model_chat_template(tokenizer, "some/model")
