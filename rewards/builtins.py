"""The built-in verifiers and ``load_reward``: verifiers as TRL reward functions (registry: `rewards.registry`).

Rules:
- ``REGISTRY`` maps a name to a *batch verifier* ``fn(texts, ground_truths, *, columns, options)``
  returning one ``True``/``False``/``None`` per row (None: "not my row"). Names are registered once
  with ``@register(name)``; registering a name twice raises ``ValueError``.
- ``load_reward(name_or_path, value=10.0, loose=False, timeout=3.0, partial=False)`` returns a picklable callable
  with TRL's reward-function contract ``f(prompts, completions, **columns) -> list[float | None]``:
  True -> ``value``, False -> 0.0, a float share ``s`` (partial credit) -> ``s * value``, None -> None. The
  gold comes from the ``ground_truth`` column; a chat completion is judged on its last assistant message. Its
  ``__name__`` is the verifier name.
- A name containing ``:`` is a plug-in ``"package.module:function"``, imported at load time (clear error
  when that fails). A per-item verifier ``function(completion: str, ground_truth) -> bool`` runs in the
  time-limited worker pool, so it gets the same hard per-item limit as the built-in verifiers. A function in
  TRL's own contract (it takes ``completions``) runs in-process, guarded by :mod:`rewards.guarded`: when it
  raises, the rows it fails on score None and the count is logged, so it cannot kill an RL run.
- Built-ins: ``gsm8k`` (in-process, linear time), ``math`` (in-process fast path, symbolic check in
  the pool), ``ifeval`` (``rewards.ifeval.verify`` in the pool, imported lazily), ``ifbench`` (IFBench's 58
  constraints, ``rewards.ifbench.verify`` in its own pool), and ``verifiable``
  (defined in :mod:`rewards.verifiable`, routes rows on the ``dataset`` column). ``REGISTRY``, ``Options`` and
  ``register`` live in the leaf module :mod:`rewards.registry`, which verifier modules import (no import cycle).
- Each pool-using verifier has its own worker pool (``pool=`` of :func:`rewards.worker_pool.run_limited`:
  ``"math"``, ``"ifeval"``, one per plug-in), so an IFEval call never queues behind a MATH item being killed.
- The no-EOS penalty belongs to the RL trainer, not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewards import gsm8k, math_flex, verifiable
from rewards.extract import completion_text
from rewards.guarded import GuardedReward, is_trl_reward
from rewards.registry import REGISTRY, BatchVerifier, Options, register
from rewards.worker_pool import DEFAULT_TIMEOUT, resolve, run_limited

__all__ = ["REGISTRY", "Options", "RewardFunction", "load_reward", "register", "verifiable"]


@register("gsm8k")
def _gsm8k(texts: Sequence[str], truths: Sequence[Any], *, columns: Mapping, options: Options) -> list:
    return gsm8k.verify_batch(texts, [str(t) for t in truths])


@register("math")
def _math(texts: Sequence[str], truths: Sequence[Any], *, columns: Mapping, options: Options) -> list:
    return math_flex.verify_batch(texts, [str(t) for t in truths], timeout=options.timeout)


def ifeval_item(completion: str, ground_truth: Any, loose: bool, partial: bool = False) -> bool | float:
    """Worker-side IFEval call (imported lazily so the package works before ``rewards.ifeval`` exists); with
    ``partial``, a multi-constraint row gives the share of its constraints followed."""
    from rewards.ifeval import verify

    verdict = verify(completion, ground_truth, loose=loose, partial=partial)
    return verdict if isinstance(verdict, float) else bool(verdict)


def worker_warmup() -> None:
    """Preload hook of the ``"ifeval"`` pool's workers: one check that loads the language profiles (~1-3 s),
    so the first real item does not run into its time limit."""
    try:
        ifeval_item("a short english sentence in lower case.", '{"func_name": "validate_lowercase"}', False)
        ifeval_item("Hi there hi.", "[{'instruction_id': ['keywords:start_end'], 'kwargs': [None]}]", False)  # nltk
    except Exception:  # noqa: BLE001 - warm-up only
        pass


@register("ifbench")
def _ifbench_batch(texts: Sequence[str], truths: Sequence[Any], *, columns: Mapping, options: Options) -> list:
    """IFBench's 58 constraints (:mod:`rewards.ifbench`), every instruction of a row must hold."""
    items = [(t, g, options.loose) for t, g in zip(texts, truths, strict=True)]
    outcomes = run_limited("rewards.ifbench:verify_item", items, timeout=options.timeout, default=False, pool="ifbench")
    return [o is True for o in outcomes]


@register("ifeval")
def _ifeval_batch(texts: Sequence[str], truths: Sequence[Any], *, columns: Mapping, options: Options) -> list:
    items = [(t, g, options.loose, options.partial) for t, g in zip(texts, truths, strict=True)]
    outcomes = run_limited("rewards.builtins:ifeval_item", items, timeout=options.timeout, default=False, pool="ifeval")
    return [o if isinstance(o, float) else o is True for o in outcomes]


def _plugin(path: str) -> BatchVerifier:
    resolve(path)  # fail now, in the caller, with a message naming the module/function

    def batch(texts: Sequence[str], truths: Sequence[Any], *, columns: Mapping, options: Options) -> list:
        items = [(t, g) for t, g in zip(texts, truths, strict=True)]
        outcomes = run_limited(path, items, timeout=options.timeout, default=False, pool=path)
        return [bool(o) for o in outcomes]

    return batch


class RewardFunction:
    """A verifier in TRL's ``reward_funcs`` contract (see the module docstring)."""

    def __init__(self, name: str, options: Options) -> None:
        self.__name__ = name.rsplit(":", 1)[-1] if ":" in name else name
        self.name = name
        self.options = options
        self._batch = _plugin(name) if ":" in name else REGISTRY[name]

    def __call__(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, **columns: Any
    ) -> list[float | None]:
        if completions is None:
            raise ValueError(f"reward {self.name!r} needs the 'completions' argument")
        truths = columns.get("ground_truth")
        if truths is None:
            raise ValueError(f"reward {self.name!r} needs a 'ground_truth' dataset column")
        if len(truths) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(truths)} ground truths")
        texts = [completion_text(c) for c in completions]
        verdicts = self._batch(texts, list(truths), columns=columns, options=self.options)
        value = self.options.value
        return [None if v is None else value * v if isinstance(v, float) else (value if v else 0.0) for v in verdicts]

    def __getstate__(self) -> dict:
        return {"name": self.name, "options": self.options}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["name"], state["options"])

    def __repr__(self) -> str:
        return f"RewardFunction({self.name!r}, {self.options})"


def load_reward(
    name: str, *, value: float = 10.0, loose: bool = False, timeout: float = DEFAULT_TIMEOUT, partial: bool = False
) -> RewardFunction | GuardedReward:
    """A TRL reward function for a registered verifier name or a ``"package.module:function"`` plug-in."""
    if ":" in name and is_trl_reward(resolve(name)):
        return GuardedReward(name, resolve(name))
    key = name if ":" in name else name.lower()
    if ":" not in key and key not in REGISTRY:
        raise KeyError(f"unknown reward {name!r}; registered: {sorted(REGISTRY)} or 'package.module:function'")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    options = Options(value=float(value), loose=bool(loose), timeout=float(timeout), partial=bool(partial))
    return RewardFunction(key, options)
