"""Model soups: a uniform or weighted average of the weights of checkpoints of one architecture.

The paper (Table 14) averaged SFT runs of several seeds; the soup did not beat the best seed, but it is a
cheap ablation. Weights are normalized to sum to 1. The average is accumulated in float64 (float32 for half
precision checkpoints, to bound memory) and cast back to each tensor's dtype, so a soup of identical models is
bit-identical to the model. Checkpoints must have the same tensor names and shapes; anything else is refused
with the name of the tensor and both shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


class SoupError(ValueError):
    """Checkpoints that cannot be averaged (different tensors, shapes or bad weights)."""


def normalized_weights(n: int, weights: Sequence[float] | None = None) -> list[float]:
    """`n` equal weights, or the given ones scaled to sum to 1 (all must be >= 0, at least one > 0)."""
    if n < 1:
        raise SoupError("a soup needs at least one model")
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise SoupError(f"{len(weights)} weights for {n} models")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise SoupError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def check_compatible(
    reference: Mapping[str, torch.Tensor], other: Mapping[str, torch.Tensor], ref_name: str, other_name: str
) -> None:
    """Raise SoupError naming the first tensor that is missing or has another shape."""
    missing = sorted(set(reference) - set(other))
    extra = sorted(set(other) - set(reference))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{other_name} lacks {missing[:3]}")
        if extra:
            parts.append(f"{other_name} has extra {extra[:3]}")
        raise SoupError(f"cannot average {ref_name} and {other_name}: different tensors ({'; '.join(parts)})")
    for key, tensor in reference.items():
        if tuple(tensor.shape) != tuple(other[key].shape):
            raise SoupError(
                f"cannot average tensor '{key}': shape {tuple(tensor.shape)} in {ref_name} "
                f"but {tuple(other[key].shape)} in {other_name}"
            )


def _accumulator_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float32 if tensor.dtype in (torch.float16, torch.bfloat16) else torch.float64


class SoupAccumulator:
    """Adds checkpoints one at a time (only one full model in memory besides the running sum)."""

    def __init__(self) -> None:
        self.reference: dict[str, torch.Tensor] | None = None
        self.reference_name = ""
        self.sums: dict[str, torch.Tensor] = {}

    def add(self, state_dict: Mapping[str, torch.Tensor], weight: float, name: str) -> None:
        if self.reference is None:
            self.reference = {k: v.detach().to("meta") for k, v in state_dict.items()}  # names, shapes, dtypes
            self.reference_name = name
            self.sums = {k: v.detach().cpu().clone() for k, v in state_dict.items() if not v.is_floating_point()}
        else:
            check_compatible(self.reference, state_dict, self.reference_name, name)
        for key, ref in self.reference.items():
            if not ref.is_floating_point():
                continue
            value = weight * state_dict[key].detach().to("cpu", _accumulator_dtype(ref))
            self.sums[key] = value if key not in self.sums else self.sums[key] + value

    def result(self) -> dict[str, torch.Tensor]:
        """The soup, each tensor in the first checkpoint's dtype (non-float tensors copied from it)."""
        if self.reference is None:
            raise SoupError("a soup needs at least one model")
        return {k: self.sums[k].to(ref.dtype) for k, ref in self.reference.items()}


def average_state_dicts(
    state_dicts: Sequence[Mapping[str, torch.Tensor]],
    weights: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Weighted average of state dicts with identical tensor names and shapes."""
    names = list(names) if names is not None else [f"model {i}" for i in range(len(state_dicts))]
    acc = SoupAccumulator()
    for sd, weight, name in zip(state_dicts, normalized_weights(len(state_dicts), weights), names, strict=True):
        acc.add(sd, weight, name)
    return acc.result()
