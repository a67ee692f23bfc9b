"""LLM-backed data generation: backends, a resumable executor, persona synthesis, judged preference pairs.

Heavy dependencies (torch, transformers, vllm, datasets) are imported only when a backend or loader
needs them.
"""

from .backends import (
    Completion,
    FatalError,
    GenerationError,
    MalformedOutputError,
    ModelSpec,
    TransientError,
    make_backend,
)
from .batch import BatchConfig, BatchSummary, run_batch
from .executor import RetryPolicy, RunSummary, item_id, read_records, run_items
from .identity import identity_conversations
from .judge import ASPECTS, parse_rating
from .pairs import build_preference_pair

__all__ = [
    "ASPECTS",
    "BatchConfig",
    "BatchSummary",
    "Completion",
    "FatalError",
    "GenerationError",
    "MalformedOutputError",
    "ModelSpec",
    "RetryPolicy",
    "RunSummary",
    "TransientError",
    "build_preference_pair",
    "identity_conversations",
    "item_id",
    "make_backend",
    "parse_rating",
    "read_records",
    "run_batch",
    "run_items",
]
