"""A tiny Llama-style base model and tokenizer, built offline, for the CPU quickstart and the tests.

No Hub download is possible in tests or on an offline machine, so the quickstart ships a base model made here:
a byte-level BPE tokenizer trained on the bundled quickstart texts (digits split one per token, so arithmetic
is learnable) with Llama 3's special-token names, and a randomly initialised Llama of about a million
parameters. `python -m tulu_recipes.quickstart.tiny_model OUT_DIR` rebuilds it deterministically.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from tulu_recipes.chat_templates import load_chat_template
from tulu_recipes.quickstart.data import corpus

BOS, EOS, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<pad>"
ROLE_HEADERS = ["<|system|>\n", "<|user|>\n", "<|assistant|>\n"]


def build_tokenizer(vocab_size: int = 512, seed: int = 1234) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(seed) + ROLE_HEADERS * 50, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    fast.chat_template = load_chat_template("tulu").inference
    return fast


def build_model(vocab_size: int, seed: int = 1234, hidden_size: int = 128, layers: int = 4) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 3,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def write(out_dir: str | Path, seed: int = 1234) -> Path:
    out = Path(out_dir)
    tokenizer = build_tokenizer(seed=seed)
    model = build_model(len(tokenizer), seed=seed)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


if __name__ == "__main__":
    print(write(sys.argv[1] if len(sys.argv) > 1 else "recipes/quickstart/tiny-base"))
