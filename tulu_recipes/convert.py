"""`tulu-recipes convert-gguf SRC.gguf OUT_DIR`: a GGUF chat model as a normal fp32 Hugging Face checkpoint.

transformers reads GGUF files itself (`from_pretrained(..., gguf_file=...)` de-quantizes every tensor to fp32 with
the `gguf` package), but the model it returns cannot be used as a training start: `save_pretrained` refuses a
GGUF-loaded model and its config keeps a `quantization_config` that makes `Trainer` refuse to fine-tune it. No
maintained tool writes such a checkpoint, so this module does the small remaining step by hand: it copies the
de-quantized weights (state dict) into a fresh model built from the config without the GGUF entry, and saves that
with the tokenizer (chat template included) and a generation config taken from the file's special tokens.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tulu_recipes.config import RecipeError

logger = logging.getLogger("tulu_recipes")


def _gguf_reader(src: Path):
    try:
        from gguf import GGUFReader
    except ImportError:
        raise RecipeError("convert-gguf needs the `gguf` package: pip install 'tulu-recipes[gguf]'") from None
    try:
        return GGUFReader(str(src))
    except Exception as err:  # noqa: BLE001 - any parse failure means "not a GGUF file we can read"
        raise RecipeError(f"{src} is not a readable GGUF file ({type(err).__name__}: {err})") from None


def gguf_architecture(src: str | Path) -> str:
    """The `general.architecture` of a GGUF file, checked against the architectures transformers can load."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    src = Path(src)
    if not src.is_file():
        raise RecipeError(f"GGUF file {src} does not exist")
    reader = _gguf_reader(src)
    field = reader.fields.get("general.architecture")
    if field is None:
        raise RecipeError(f"{src} has no `general.architecture` entry; it is not a model GGUF file")
    arch = bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")
    supported = sorted(GGUF_SUPPORTED_ARCHITECTURES)
    # transformers maps llama.cpp's names (qwen2moe, gpt-oss, ...) onto its own; accept what its loader accepts.
    aliases = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss", "minimax-m2": "minimax_m2"}
    if arch not in supported and aliases.get(arch) not in supported and "t5" not in arch:
        raise RecipeError(
            f"{src}: GGUF architecture {arch!r} cannot be read by transformers; supported: {', '.join(supported)}"
        )
    return arch


def convert_gguf(src: str | Path, out_dir: str | Path) -> Path:
    """Write `out_dir` as an fp32 checkpoint (weights, config, tokenizer, generation config) from a GGUF file."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    src, out = Path(src).resolve(), Path(out_dir)
    arch = gguf_architecture(src)
    if out.exists() and any(out.iterdir()):
        raise RecipeError(f"output directory {out} exists and is not empty; not overwriting it")
    folder, name = str(src.parent), src.name
    try:
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except NotImplementedError as err:  # gguf cannot de-quantize this tensor type
        raise RecipeError(f"{src}: a tensor quantization cannot be de-quantized by gguf/transformers: {err}") from None
    except (ValueError, KeyError) as err:
        raise RecipeError(f"{src} ({arch}): transformers cannot load this GGUF model: {err}") from None

    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    config.name_or_path = ""
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or {})
    if unexpected or set(missing) - tied:
        raise RecipeError(f"{src}: weights do not match the architecture (missing {missing}, unexpected {unexpected})")
    if config.tie_word_embeddings:
        model.tie_weights()
    del loaded

    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("Converted %s (%s, %.1fM parameters) to %s", src, arch, n_params / 1e6, out)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0].startswith("-"):
        raise SystemExit("error: usage: tulu-recipes convert-gguf SRC.gguf OUT_DIR")
    try:
        out = convert_gguf(argv[0], argv[1])
    except RecipeError as err:
        raise SystemExit(f"error: {err}") from None
    print(out)
    return 0
