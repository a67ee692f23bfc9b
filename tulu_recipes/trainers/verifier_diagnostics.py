"""Verifier diagnostics while RLVR trains: why the verifier said no, per dataset, and sampled verdicts for audit.

A policy can learn to hedge between answers, to stop answering, or to run past the length limit, and the reward
curve alone does not say which. TRL logs reward means and one clipped ratio for the whole batch; it has no notion
of a verifier's reasons, so this module adds them (by hand: no library classifies verifier verdicts).

Metrics, on every reward call (TRL averages them over the logging window like its own), for each value of the
``dataset`` column: ``verifier/<dataset>/correct``, ``/no_answer``, ``/hedge`` and ``/truncated``, each a share
of the rows a registered verifier scored. A row's verdict is the score of the first reward function from the
registry (:class:`rewards.builtins.RewardFunction`) that scored it, before the no-EOS penalty (> 0 is correct);
its category comes from :func:`rewards.diagnose.classify` (hedge and no-answer rules there). Only the rows the
verifier rejected are re-read (its in-process extraction, no symbolic check), so a step pays at most one extra
extraction per wrong row. ``truncated`` is TRL's clipped ratio per dataset: the last token is not EOS.

Samples: when ``verifier_sample_steps`` is N > 0, the first reward call of every N-th optimizer step (the step the
completions train: ``global_step + 1``, or the first one after it when generation skips steps) writes up to
``verifier_sample_size`` rows, drawn with the step as seed, to ``<output_dir>/verifier_samples/step-000010.jsonl``:
one JSON object a line with ``step``, ``dataset``, ``verifier``, ``category``, ``extracted``, ``score``,
``truncated``, ``ground_truth``, ``prompt`` and ``completion``. Training only, written by the main process.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelerate.utils import gather_object

from rewards.builtins import RewardFunction
from rewards.diagnose import classify, verifier_for
from rewards.extract import completion_text

SAMPLES_DIR = "verifier_samples"
SHARES = ("correct", "no_answer", "hedge")


@dataclass
class VerifierDiagnosticsArguments:
    """Config fields of the diagnostics, shared by the GRPO, RLOO and PPO configs (a dataclass base)."""

    verifier_diagnostics: bool = field(
        default=True,
        metadata={
            "help": "Log, per `dataset`, the share of completions the verifier found correct, with no answer, "
            "hedging between answers, and truncated (no EOS): verifier/<dataset>/{correct,no_answer,hedge,"
            "truncated}. Logging only; scores are unchanged."
        },
    )
    verifier_sample_steps: int = field(
        default=0,
        metadata={
            "help": "Every N optimizer steps, write a sample of completions with the verifier's verdict and the "
            "answer it extracted to <output_dir>/verifier_samples/step-NNNNNN.jsonl, for audit. 0 (default) "
            "writes none."
        },
    )
    verifier_sample_size: int = field(
        default=32, metadata={"help": "Completions per verifier sample file (see `verifier_sample_steps`)."}
    )

    def __post_init__(self) -> None:
        if self.verifier_sample_steps < 0:
            raise ValueError(
                f"verifier_sample_steps must be >= 0 (0 writes no samples), got {self.verifier_sample_steps}"
            )
        if self.verifier_sample_size < 1:
            raise ValueError(f"verifier_sample_size must be >= 1, got {self.verifier_sample_size}")
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()


def row_verdicts(
    reward_funcs: Sequence[Any], scores: Sequence[Sequence[float]], datasets: Sequence[Any]
) -> list[tuple[str, bool | None, float | None]]:
    """``(verifier, verdict, score)`` per row from the first registry verifier that scored it; unscored: None."""
    columns = [(j, f.name) for j, f in enumerate(reward_funcs) if isinstance(f, RewardFunction)]
    out: list[tuple[str, bool | None, float | None]] = []
    for row, dataset in zip(scores, datasets, strict=True):
        found = next(((name, row[j]) for j, name in columns if not math.isnan(row[j])), None)
        if found is None:
            out.append(("", None, None))
        else:
            out.append((verifier_for(found[0], dataset), found[1] > 0, found[1]))
    return out


def share_metrics(records: Iterable[tuple[str, str, bool]]) -> dict[str, float]:
    """``verifier/<dataset>/<share>`` over the scored rows of ``(dataset, category, truncated)`` records."""
    rows: dict[str, list[tuple[str, bool]]] = {}
    for dataset, category, truncated in records:
        if category != "unscored":
            rows.setdefault(dataset, []).append((category, truncated))
    metrics: dict[str, float] = {}
    for dataset in sorted(rows):
        group = rows[dataset]
        for share in SHARES:
            metrics[f"verifier/{dataset}/{share}"] = sum(c == share for c, _ in group) / len(group)
        metrics[f"verifier/{dataset}/truncated"] = sum(t for _, t in group) / len(group)
    return metrics


def sample_path(output_dir: str, step: int) -> Path:
    return Path(output_dir) / SAMPLES_DIR / f"step-{step:06d}.jsonl"


def _sample_due(trainer: Any, step: int) -> bool:
    every = int(getattr(trainer.args, "verifier_sample_steps", 0) or 0)
    if every <= 0 or not trainer.model.training:
        return False
    return step >= getattr(trainer, "_verifier_next_sample", every)


def observe(trainer: Any, inputs: list[dict], prompts: list, completions: list, completion_ids: list, rewards) -> None:
    """The trainer hook: log the shares and, when due, write a sample file (rules in the module docstring).

    ``rewards`` is TRL's gathered ``rewards_per_func``; this process's rows are its slice of it.
    """
    args = trainer.args
    step = trainer.state.global_step + 1
    log_shares = bool(getattr(args, "verifier_diagnostics", True))
    sample = _sample_due(trainer, step)
    if not (log_shares or sample):
        return
    n = len(prompts)
    start = trainer.accelerator.process_index * n
    local = rewards[start : start + n].detach().float().cpu().tolist()
    datasets = [str(x.get("dataset", "all")) for x in inputs]
    truths = [x.get("ground_truth") for x in inputs]
    verdicts = row_verdicts(trainer.reward_funcs, local, [x.get("dataset") for x in inputs])
    eos = set(trainer.eos_token_ids)
    truncated = [not (len(ids) > 0 and int(ids[-1]) in eos) for ids in completion_ids]
    if log_shares:
        categories = [
            classify(c, t, v, verdict, want_answer=False).category
            for c, t, (v, verdict, _) in zip(completions, truths, verdicts, strict=True)
        ]
        mode = "train" if trainer.model.training else "eval"
        records = gather_object(list(zip(datasets, categories, truncated, strict=True)))
        for key, value in share_metrics(records).items():
            trainer._metrics[mode][key].append(value)
    if sample:
        size = int(args.verifier_sample_size)
        chosen = sorted(random.Random(step).sample(range(n), min(size, n)))
        rows = []
        for i in chosen:
            verifier, verdict, score = verdicts[i]
            found = classify(completions[i], truths[i], verifier, verdict)
            rows.append({"step": step, "dataset": datasets[i], "verifier": verifier, "category": found.category,
                         "extracted": found.extracted, "score": score, "truncated": truncated[i],
                         "ground_truth": truths[i], "prompt": prompts[i],
                         "completion": completion_text(completions[i])})  # fmt: skip
        rows = gather_object(rows)
        if trainer.accelerator.is_main_process:
            if len(rows) > size:
                rows = [rows[i] for i in sorted(random.Random(step).sample(range(len(rows)), size))]
            write_samples(sample_path(args.output_dir, step), rows)
        every = int(args.verifier_sample_steps)
        trainer._verifier_next_sample = (step // every + 1) * every


def write_samples(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
