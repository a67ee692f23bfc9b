"""The generation stages (synthesize, preferences, if-preferences) as datatrove pipelines.

Each task takes a contiguous row range of the stage's inputs (personas, prompts, IF rows, as the stage's own
loader returns them: deduplicated and cut to ``max_*``), writes it to ``inputs/<rank>.jsonl`` and calls the stage's
public entry point (``synthesize``, ``generate_preferences``, ``generate_if_preferences``) on that file, with its
own item cache under ``cache/`` and its own output ``outputs/<rank>.jsonl``. The merge concatenates the task
outputs in the order of the items, so the file is the same whatever the number of tasks, and byte for byte the
embedded path's, which also writes its rows in item order (``executor.records_in_item_order``).

Why this is ours: every per-item seed (model sampling, constraint pick, pair pick, jitter) is derived from the
item's own inputs, so a row's result does not depend on which task ran it; the item caches (one fsynced JSON line
per finished item, ids = hashes of the inputs) are what make a killed task lossless and duplicate-free when it
runs again. datatrove decides which tasks run again (its completion markers); a task that still has failed items
writes ``failed/<rank>.json`` and is re-opened by the next run (``executors.reopen_failed``), as the embedded path
retries its failures on every run.

With ``inference_server`` set, a task first asks its model calls through datatrove's ``InferenceRunner`` (a vLLM or
SGLang server started per task; ``pipelines.inference``), then runs the entry point on the answers it cached.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from tulu_recipes.generation import if_preferences, preferences, synthesize
from tulu_recipes.generation.executor import RunSummary, item_id
from tulu_recipes.generation.synthesize import write_jsonl

from .executors import ExecutorConfig, run_dir, run_sharded
from .shards import row_range

logger = logging.getLogger(__name__)

# Keys that change how a run goes, not what it writes: a new value keeps the run folder and its caches.
RUN_ONLY_KEYS = frozenset(
    {"output_path", "cache_path", "cache_dir", "progress", "max_concurrency", "max_retries", "retry_base_delay",
     "retry_max_delay", "identity_model_name", "identity_developer", "identity_repeat", "identity_output_path"}
)  # fmt: skip


@dataclass(frozen=True)
class Stage:
    """How one generation stage is cut into tasks and merged back."""

    name: str
    load: Callable[[Any], list]  # the stage's own loader: the inputs, deduplicated and limited
    to_rows: Callable[[list], list[dict]]  # inputs as JSONL rows that ``load`` reads back unchanged
    shard_config: Callable[[Any, str, str, str], Any]  # (config, inputs file, output file, cache) -> config
    run: Callable[[Any], dict[str, Any]]  # the public entry point
    order: Callable[[Any, list], Callable[[dict], int]]  # (config, inputs) -> position of an output row


def _shard_batch(judge_batch: dict | None) -> dict | None:
    """A task's Batch API judge settings: its status file next to its own judgments cache, never a shared one."""
    if not judge_batch:
        return judge_batch
    return {k: v for k, v in judge_batch.items() if k != "status_path"}


def _synth_order(config: Any, personas: list) -> Callable[[dict], int]:
    positions = {item_id(item): i for i, item in enumerate(synthesize.build_items(config, personas))}
    return lambda row: positions[row["id"]]


def _prefs_order(config: Any, prompts: list) -> Callable[[dict], int]:
    positions = {item_id(prompt): i for i, prompt in enumerate(prompts)}
    return lambda row: positions[item_id(row["chosen"][:-1])]


def _if_order(config: Any, rows: list) -> Callable[[dict], int]:
    positions = {item_id(item): i for i, item in enumerate(if_preferences.build_items(config, rows))}
    return lambda row: positions[row["id"]]


STAGES: dict[str, Stage] = {
    "synthesize": Stage(
        name="synthesize",
        load=lambda c: synthesize.load_personas(c.personas, c.persona_column, c.persona_split, c.max_personas),
        to_rows=lambda personas: [{"persona": p} for p in personas],
        shard_config=lambda c, inputs, out, cache: dataclasses.replace(
            c,
            personas=inputs,
            persona_column="persona",
            max_personas=None,
            output_path=out,
            cache_path=f"{cache}.jsonl",
            identity_model_name=None,
        ),  # fmt: skip
        run=synthesize.synthesize,
        order=_synth_order,
    ),
    "preferences": Stage(
        name="preferences",
        load=lambda c: preferences.load_prompts(c.prompts, c.prompt_column, c.prompt_split, c.max_prompts),
        to_rows=lambda prompts: [{"messages": p} for p in prompts],
        shard_config=lambda c, inputs, out, cache: dataclasses.replace(
            c,
            prompts=inputs,
            prompt_column="messages",
            max_prompts=None,
            output_path=out,
            cache_dir=cache,
            judge_batch=_shard_batch(getattr(c, "judge_batch", None)),
        ),  # fmt: skip
        run=preferences.generate_preferences,
        order=_prefs_order,
    ),
    "if-preferences": Stage(
        name="if-preferences",
        load=lambda c: if_preferences.load_rows(c.prompts, c.max_prompts),
        to_rows=lambda rows: [{"messages": r["prompt"], "ground_truth": r["constraints"]} for r in rows],
        shard_config=lambda c, inputs, out, cache: dataclasses.replace(
            c, prompts=inputs, max_prompts=None, output_path=out, cache_path=f"{cache}.jsonl"
        ),
        run=if_preferences.generate_if_preferences,
        order=_if_order,
    ),
}


def failed_items(stats: dict[str, Any]) -> int:
    return sum(value.failed for value in stats.values() if isinstance(value, RunSummary))


class GenerateRows(PipelineStep):
    """One task: the stage's entry point on the task's row range."""

    type = "generate"

    def __init__(self, stage: str, config: Any, folder: str, inference: Any = None) -> None:
        self.name = stage  # before PipelineStep.__init__, which names the stats after it
        super().__init__()
        self.stage = stage
        self.config = config
        self.folder = folder
        self.inference = inference  # an InferenceRunnerConfig with a server, or None: the stage's own backends

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1):
        stage, folder = STAGES[self.stage], Path(self.folder)
        inputs = stage.load(self.config)
        lo, hi = row_range(len(inputs), rank, world_size)
        shard_inputs = folder / "inputs" / f"{rank:05d}.jsonl"
        output = folder / "outputs" / f"{rank:05d}.jsonl"
        write_jsonl(stage.to_rows(inputs[lo:hi]), shard_inputs)
        stats: dict[str, Any] = {}
        if hi > lo:
            cache = folder / "cache" / f"{rank:05d}"
            shard = stage.shard_config(self.config, str(shard_inputs), str(output), str(cache))
            if self.inference is not None:
                from .inference import run_task

                stats = stage.run(shard, run_task(self.stage, shard, self.inference, folder, rank, world_size))
            else:
                stats = stage.run(shard)
        else:
            write_jsonl([], output)
        failed = failed_items(stats)
        summaries = {k: str(v) for k, v in stats.items() if isinstance(v, RunSummary)}
        write_jsonl([{"failed": failed, "rows": [lo, hi], **summaries}], folder / "failed" / f"{rank:05d}.json")
        self.stat_update("inputs", value=hi - lo)
        self.stat_update("failed_items", value=failed)
        return
        yield


def merge_outputs(stage: Stage, config: Any, folder: Path, world_size: int) -> int:
    """Concatenate the task outputs in item order into ``config.output_path``; returns the row count."""
    key = stage.order(config, stage.load(config))
    lines: list[tuple[int, str]] = []
    for rank in range(world_size):
        path = folder / "outputs" / f"{rank:05d}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: task {rank} has not finished; run the same command again")
        lines += [(key(json.loads(line)), line) for line in path.read_text(encoding="utf-8").splitlines()]
    lines.sort(key=lambda pair: pair[0])
    target = Path(config.output_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("".join(line + "\n" for _, line in lines), encoding="utf-8")
    tmp.replace(target)
    return len(lines)


class MergeRows(PipelineStep):
    """The single merge task (plus synthesize's identity conversations, which need no model)."""

    type = "merge"

    def __init__(self, stage: str, config: Any, folder: str, world_size: int) -> None:
        self.name = f"{stage} merge"
        super().__init__()
        self.stage = stage
        self.config = config
        self.folder = folder
        self.world_size = world_size

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1):
        folder = Path(self.folder)
        n = merge_outputs(STAGES[self.stage], self.config, folder, self.world_size)
        if self.stage == "synthesize" and self.config.identity_model_name:
            synthesize.synthesize(dataclasses.replace(self.config, personas=None))
        failed = sum(json.loads(p.read_text())["failed"] for p in (folder / "failed").glob("*.json"))
        print(f"{self.stage}: {n} rows from {self.world_size} tasks -> {self.config.output_path}"
              f"{f'; {failed} items failed (run again to retry them)' if failed else ''}", flush=True)  # fmt: skip
        return
        yield


def run_generation(stage_name: str, config: Any, executor: ExecutorConfig, inference: Any = None) -> Path:
    """Run a generation stage as ``executor.tasks`` datatrove tasks and a merge; returns the run folder.
    ``inference``: an ``InferenceRunnerConfig`` whose server answers the tasks' model calls (None: the specs')."""
    inputs = {k: v for k, v in dataclasses.asdict(config).items() if k not in RUN_ONLY_KEYS}
    inputs["rows"] = item_id(STAGES[stage_name].load(config))  # the content, not just the file name
    folder = run_dir(executor, config.output_path, stage_name, inputs)
    done = run_sharded(
        executor,
        folder,
        stage_name,
        [GenerateRows(stage_name, config, str(folder), inference)],
        [MergeRows(stage_name, config, str(folder), executor.tasks)],
    )
    if not done:
        print(f"submitted {executor.tasks} {stage_name} tasks and the merge; logs and markers in {folder}", flush=True)
    return folder
