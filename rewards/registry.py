"""The verifier registry's data: ``Options``, ``REGISTRY`` and ``register``.

Kept apart from :mod:`rewards.builtins` (which defines the built-in verifiers and ``load_reward``) so that
modules defining verifiers, such as :mod:`rewards.verifiable`, import this leaf module and never the
built-ins: no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rewards.worker_pool import DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Options:
    """Per-reward options: reward for a correct answer, IFEval loose mode, seconds per item, and partial credit
    for multi-constraint IFEval/IFTrain rows (``value`` times the share of constraints followed)."""

    value: float = 10.0
    loose: bool = False
    timeout: float = DEFAULT_TIMEOUT
    partial: bool = False


BatchVerifier = Callable[..., list]
REGISTRY: dict[str, BatchVerifier] = {}


def register(name: str) -> Callable[[BatchVerifier], BatchVerifier]:
    """Decorator adding a batch verifier under ``name`` (lower case, registered once)."""
    key = name.lower()

    def decorate(fn: BatchVerifier) -> BatchVerifier:
        if key in REGISTRY:
            raise ValueError(f"reward {name!r} is already registered")
        if ":" in key:
            raise ValueError(f"reward names cannot contain ':' (reserved for plug-ins): {name!r}")
        REGISTRY[key] = fn
        return fn

    return decorate
