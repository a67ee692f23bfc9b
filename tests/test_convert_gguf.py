"""`tulu-recipes convert-gguf`: the packaged SmolLM2 GGUF becomes a normal fp32 checkpoint; bad files fail clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tulu_recipes.cli import main as cli_main
from tulu_recipes.config import RecipeError
from tulu_recipes.convert import convert_gguf


def test_checkpoint_files_and_config(smollm2):
    names = {p.name for p in smollm2.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "generation_config.json",
        "tokenizer.json",
        "chat_template.jinja",
    } <= names
    config = json.loads((smollm2 / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["dtype"] == "float32" and config["model_type"] == "llama"
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (30, 576, 49152)
    generation = json.loads((smollm2 / "generation_config.json").read_text())
    assert generation["eos_token_id"] == 2  # <|im_end|>
    assert "<|im_start|>assistant" in (smollm2 / "chat_template.jinja").read_text()


def test_weights_equal_the_dequantized_gguf_tensors(smollm2, smollm2_gguf):
    from gguf import GGUFReader, dequantize
    from safetensors import safe_open

    tensors = {t.name: t for t in GGUFReader(str(smollm2_gguf)).tensors}
    with safe_open(str(smollm2 / "model.safetensors"), "pt") as saved:
        for gguf_name, hf_name in [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("blk.7.ffn_down.weight", "model.layers.7.mlp.down_proj.weight"),
            ("blk.29.attn_norm.weight", "model.layers.29.input_layernorm.weight"),
        ]:
            t = tensors[gguf_name]
            expected = torch.from_numpy(np.array(dequantize(t.data, t.tensor_type), dtype=np.float32))
            assert torch.equal(saved.get_tensor(hf_name), expected.reshape(saved.get_tensor(hf_name).shape))
    assert sum(int(np.prod(t.shape)) for t in tensors.values()) == 134_515_008  # 134.5M, embeddings tied


def test_converted_model_loads_plainly_and_answers(smollm2, one_torch_thread):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(smollm2)
    tokenizer = AutoTokenizer.from_pretrained(smollm2)
    assert getattr(model.config, "quantization_config", None) is None and model.dtype == torch.float32
    messages = [{"role": "user", "content": "What is 12 + 30?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**inputs, max_new_tokens=10, do_sample=False)
    assert tokenizer.decode(out[0, inputs["input_ids"].shape[1] :]).startswith("12 + 30 = ")


def test_unsupported_architecture_is_a_clear_error(tmp_path):
    from gguf import GGUFWriter

    path = tmp_path / "odd.gguf"
    writer = GGUFWriter(str(path), arch="rwkv7")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(RecipeError, match=r"odd\.gguf: GGUF architecture 'rwkv7' cannot be read by transformers"):
        convert_gguf(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_not_a_gguf_file_and_missing_file(tmp_path, capsys):
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"not a gguf file at all")
    with pytest.raises(RecipeError, match="is not a readable GGUF file"):
        convert_gguf(bogus, tmp_path / "out")
    with pytest.raises(SystemExit, match=r"error: GGUF file .*missing\.gguf does not exist"):
        cli_main(["convert-gguf", str(tmp_path / "missing.gguf"), str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="usage: tulu-recipes convert-gguf"):
        cli_main(["convert-gguf", "only-one-arg"])
