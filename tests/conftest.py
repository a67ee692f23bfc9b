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
