"""What a stage loads: the chat template, the tokenizer with it, and the model (one loader for causal LMs and
reward models, fp32 master weights when trained, the `<pad>` row added)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from trl import ModelConfig

from tulu_recipes.chat_templates import MODEL, ChatTemplate, load_chat_template, model_chat_template
from tulu_recipes.config import RecipeError
from tulu_recipes.distributed import check_master_weights, trainable_dtype
from tulu_recipes.script_args import TuluScriptArguments

PAD_TOKEN = "<pad>"


def load_tokenizer(model_args: ModelConfig, template: ChatTemplate, training: bool) -> PreTrainedTokenizerBase:
    """The model's tokenizer with the recipe's chat template (the marked training version when training)."""
    if not model_args.model_name_or_path:
        raise RecipeError("the recipe needs `model_name_or_path`")
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_args.model_name_or_path,
            revision=model_args.model_revision,
            trust_remote_code=getattr(model_args, "trust_remote_code", False),
        )
    except OSError as err:  # unreachable Hub, unknown repo, a folder without tokenizer files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RecipeError(f"`model_name_or_path`: cannot load {model_args.model_name_or_path}: {reason}") from None
    tokenizer.chat_template = template.training if training else template.inference
    if tokenizer.pad_token is None:
        # Tülu 3 adds a dedicated <pad> rather than reusing EOS, so padding is never confused with stopping.
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return tokenizer


def load_model(
    model_args: ModelConfig, tokenizer: PreTrainedTokenizerBase, training_args: Any = None, scalar_head: bool = False
) -> PreTrainedModel:
    """The recipe's model: a causal LM, or with `scalar_head` its backbone with a 1-label classifier head (the
    reward model, which the PPO value model starts from). With `training_args` it is the model being trained,
    loaded with fp32 master weights unless DeepSpeed's mixed precision or LoRA keeps them
    (`tulu_recipes.distributed.trainable_dtype`). Embeddings grow to the tokenizer's `<pad>` row."""
    dtype = model_args.dtype if model_args.dtype in (None, "auto") else getattr(torch, model_args.dtype)
    if training_args is not None:
        dtype = trainable_dtype(model_args.dtype, training_args, peft=bool(model_args.use_peft))
    model_class = AutoModelForSequenceClassification if scalar_head else AutoModelForCausalLM
    model = model_class.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        dtype=dtype,
        attn_implementation=model_args.attn_implementation,
        trust_remote_code=getattr(model_args, "trust_remote_code", False),
        **({"num_labels": 1} if scalar_head else {}),
    )
    embedding = model.get_input_embeddings().weight
    # Under ZeRO-3 the local tensor is an empty partition; ds_shape is the full one.
    if len(tokenizer) > getattr(embedding, "ds_shape", embedding.shape)[0]:
        # The release resized to a multiple of 8 after adding <pad> (128,264 rows for Llama 3.1). A model on the meta
        # device (FSDP's cpu-RAM-efficient loading off the first process) has no values to take the new rows' mean
        # from; it gets the first process's weights when wrapped.
        on_meta = embedding.device.type == "meta"
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=8, mean_resizing=not on_meta)
    # A classifier scores the last non-pad token, so it must know the pad id too.
    model.config.pad_token_id = tokenizer.pad_token_id
    if not scalar_head and model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    if training_args is not None and not model_args.use_peft:
        check_master_weights(model, training_args, "reward model" if scalar_head else "model")
    return model


def template_for(script_args: TuluScriptArguments, model_args: ModelConfig | None = None) -> ChatTemplate:
    """The recipe's chat template; `chat_template: model` reads the one saved with `model_name_or_path`."""
    try:
        if script_args.chat_template == MODEL:
            if model_args is None or not model_args.model_name_or_path:
                raise ValueError("`chat_template: model` needs `model_name_or_path`")
            source = model_args.model_name_or_path
            tokenizer = AutoTokenizer.from_pretrained(
                source,
                revision=model_args.model_revision,
                trust_remote_code=getattr(model_args, "trust_remote_code", False),
            )
            return model_chat_template(tokenizer, source)
        return load_chat_template(script_args.chat_template)
    except ValueError as err:
        raise RecipeError(str(err)) from None
