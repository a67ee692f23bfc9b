"""Stop an RLVR run before training when its verifiers cannot read the training golds.

Why: a gold the verifier cannot parse scores every completion 0, so the row trains on all-zero rewards and
nothing fails (an empty MATH gold, a GSM8K gold without a number); an unknown IFEval instruction id can never
be satisfied. Rules of :func:`check_rlvr_golds`, over the training split's ``ground_truth`` column:

- the verifier of a row is each name in ``reward_funcs`` that has a gold check (:mod:`rewards.gold_checks`:
  ``math``, ``gsm8k``, ``ifeval``, ``ifbench``), and for ``verifiable`` the row's ``dataset`` value; plug-ins are
  not checked;
- an unknown instruction id stops the run at once with one line naming the row;
- when more than ``max_share`` of one verifier's golds cannot be parsed, the run stops with one line naming the
  verifier, the share and the first bad rows (index, reason); a smaller share is logged as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from tulu_recipes.config import RecipeError

logger = logging.getLogger(__name__)
SHOWN_ROWS = 5


def _where(index: int, sources: Sequence[Any] | None) -> str:
    return f"row {index}" + (f" (source {sources[index]})" if sources is not None else "")


def check_rlvr_golds(dataset: Any, reward_funcs: Sequence[str], max_share: float) -> None:
    """Raise :class:`RecipeError` when the golds of ``dataset`` are unusable (rules in the module docstring)."""
    from rewards.gold_checks import GOLD_CHECKS, UnknownInstruction, gold_problem
    from rewards.verifiable import verifier_for

    columns = getattr(dataset, "column_names", None) or []
    if "ground_truth" not in columns:
        return
    truths = dataset["ground_truth"]
    names = dataset["dataset"] if "dataset" in columns else None
    sources = dataset["source"] if "source" in columns else None
    checked: dict[str, int] = {}
    bad: dict[str, list[tuple[int, str]]] = {}
    for reward in {r.strip().lower() for r in reward_funcs}:
        for i, truth in enumerate(truths):
            verifier = reward
            if reward == "verifiable":
                verifier = (verifier_for(names[i]) if names is not None else None) or ""
            if verifier not in GOLD_CHECKS:
                continue
            checked[verifier] = checked.get(verifier, 0) + 1
            try:
                problem = gold_problem(verifier, truth)
            except UnknownInstruction as err:
                raise RecipeError(f"rlvr data: {_where(i, sources)}, column ground_truth: {err}") from None
            if problem is not None:
                bad.setdefault(verifier, []).append((i, problem))
    for verifier, rows in sorted(bad.items()):
        share = len(rows) / checked[verifier]
        shown = "; ".join(f"{_where(i, sources)}: {why}" for i, why in rows[:SHOWN_ROWS])
        message = (
            f"rlvr data: the {verifier} verifier cannot parse {len(rows)} of {checked[verifier]} golds "
            f"({share:.1%}) in column ground_truth; first bad rows: {shown}"
        )
        if share > max_share:
            raise RecipeError(f"{message} (more than max_unparseable_golds={max_share:g})")
        logger.warning("%s; those rows train on zero rewards", message)
