"""IFEval verifier (Zhou et al., arXiv 2311.07911) with strict and loose modes, no downloads.

``verify(completion, ground_truth, *, loose=False) -> bool`` accepts either open-instruct's RLVR
format (``{"func_name": ..., <kwargs>}``, JSON string or dict), judged by open-instruct's own 25 functions
(``open_instruct``), or Google's (``{"instruction_id_list": [...], "kwargs": [...], "prompt": ...}``), judged by
IFEval's checkers, where every instruction must be followed, or open-instruct's multi-constraint rows
(``[{"instruction_id": [...], "kwargs": [...]}]``, IFEval and IFTrain ids), judged by :mod:`rewards.iftrain`.
``loose`` tries IFEval's 8 loose variants of the response (for open-instruct rows, of the extracted answer); one
passing is enough. It never raises: malformed
input gives False. ``check_instructions`` gives per-instruction
verdicts for the evaluation CLI (``python -m rewards.ifeval``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rewards.ifeval.evaluate import accuracies, check_instructions, loose_variants
from rewards.ifeval.instructions import CHECKERS
from rewards.ifeval.open_instruct import FUNCTION_NAMES, check

__all__ = ["CHECKERS", "FUNCTION_NAMES", "accuracies", "check_instructions", "loose_variants", "verify"]


def verify(
    completion: str, ground_truth: str | Mapping[str, Any], *, loose: bool = False, partial: bool = False
) -> bool | float:
    """True when ``completion`` follows every instruction in ``ground_truth``. open-instruct's multi-constraint
    rows (``instruction_id``, IFEval + IFTrain ids) go to :func:`rewards.iftrain.score`: a bool, or with
    ``partial`` the share of constraints followed."""
    try:
        if not isinstance(completion, str):
            return False
        from rewards.iftrain import is_iftrain_gold, score

        if is_iftrain_gold(ground_truth):
            share = score(completion, ground_truth, loose=loose, partial=partial)
            return share if partial else share == 1.0
        gt = json.loads(ground_truth) if isinstance(ground_truth, (str, bytes)) else ground_truth
        if not isinstance(gt, Mapping):
            return False
        if "func_name" in gt:
            return check(completion, gt, variants=loose_variants if loose else None)
        ids = list(gt["instruction_id_list"])
        raw = gt.get("kwargs")
        kwargs = [{}] * len(ids) if raw is None else list(raw)
        prompt = str(gt.get("prompt") or "")
        if len(kwargs) != len(ids):
            return False
        if not ids:
            return False
        return all(check_instructions(prompt, completion, ids, kwargs, loose=loose))
    except Exception:  # noqa: BLE001 - the verifier contract: bad input is simply not rewarded
        return False
