"""User reward functions in TRL's own contract, guarded so that one that raises cannot kill an RL run.

A plug-in `"package.module:function"` whose signature takes `completions` is a TRL reward function
`f(prompts, completions, **columns) -> list[float | None]` and runs in-process as written. The guard:

- if the call raises, each row is retried alone; a row that still raises scores None (TRL ignores it);
- a value that is not a finite number scores None; a result of the wrong length is an error for every row;
- the number of failed rows is logged (TRL's `log_metric` as `reward_errors/<name>`, and a warning).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

logger = logging.getLogger("rewards")

_TRL_EXTRAS = ("log_metric", "log_extra", "trainer_state", "environments")


def is_trl_reward(func: Callable[..., Any]) -> bool:
    """Whether a function follows TRL's reward contract (it takes `completions`)."""
    try:
        return "completions" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class GuardedReward:
    """A TRL reward function whose exceptions and bad values become None rows, counted and logged."""

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        self.name = name
        self.func = func
        self.__name__ = name.rsplit(":", 1)[-1]
        self.errors = 0

    def _call(self, prompts: Sequence[Any] | None, completions: Sequence[Any], columns: dict[str, Any]) -> list:
        values = self.func(prompts=prompts, completions=completions, **columns)
        if len(values) != len(completions):
            raise ValueError(f"{self.name} returned {len(values)} values for {len(completions)} completions")
        return [_number(v) for v in values]

    def __call__(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, **columns: Any
    ) -> list[float | None]:
        completions = list(completions or [])
        try:
            return self._call(prompts, completions, columns)
        except Exception as batch_error:  # noqa: BLE001 - a user function may raise anything
            scores: list[float | None] = []
            failed = 0
            for i in range(len(completions)):
                row = {
                    k: ([v[i]] if isinstance(v, list) and len(v) == len(completions) and k not in _TRL_EXTRAS else v)
                    for k, v in columns.items()
                }
                try:
                    scores.extend(self._call(None if prompts is None else [prompts[i]], [completions[i]], row))
                except Exception:  # noqa: BLE001
                    scores.append(None)
                    failed += 1
            self.errors += failed
            logger.warning(
                "reward %s raised (%r); %d of %d rows scored None (total %d)",
                self.name,
                batch_error,
                failed,
                len(completions),
                self.errors,
            )
            log_metric = columns.get("log_metric")
            if callable(log_metric):
                log_metric(f"reward_errors/{self.__name__}", float(failed))
            return scores
