"""Verifiable rewards for RLVR (Tülu 3 recipe doc, section 6).

``load_reward(name, value=10.0, loose=False, timeout=3.0)`` gives a TRL reward function for
``"gsm8k"``, ``"math"``, ``"ifeval"``, ``"ifbench"``, ``"verifiable"`` (routes on the ``dataset`` column) or a
``"package.module:function"`` plug-in. Each verifier module also exposes a pure
``verify(completion, ground_truth) -> bool``.
"""

from rewards.builtins import RewardFunction, load_reward
from rewards.registry import REGISTRY, register

__all__ = ["REGISTRY", "RewardFunction", "load_reward", "register"]
