"""The recipe keys that choose a datatrove executor, their checks, and the run of a sharded stage.

Ours: the keys and their one-line errors before any work (an unknown executor, Slurm or Ray keys with another
executor or without the extra installed), the run folder (one per input fingerprint and task count, so datatrove's
completion markers are never read for other inputs), and re-opening tasks that finished with failed items.
datatrove's: the executors, the tasks, the completion markers and the ``depends`` chain (task pipeline, then the
merge).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tulu_recipes.config import RecipeError

EXECUTORS = ("embedded", "local", "slurm", "ray")
INSTALL_HINT = "pip install 'tulu-recipes[datatrove]'"


@dataclass
class ExecutorConfig:
    """Where a data stage runs: in this process (today's code), or as a datatrove pipeline."""

    executor: str = field(
        default="embedded",
        metadata={
            "help": "embedded: this process, the stage's own code (default); local: datatrove "
            "LocalPipelineExecutor; slurm: SlurmPipelineExecutor; ray: RayPipelineExecutor. The last three "
            "need the datatrove extra."
        },
    )
    tasks: int = field(default=4, metadata={"help": "datatrove tasks: the rows are cut into this many ranges."})
    workers: int = field(default=-1, metadata={"help": "Tasks run at once (-1: all of them)."})
    pipeline_dir: str | None = field(
        default=None,
        metadata={"help": "Folder of task logs, completion markers, shards and caches (default: <output>.datatrove)."},
    )
    cpus_per_task: int = field(default=1, metadata={"help": "CPUs per task (slurm, ray)."})
    gpus_per_task: int = field(default=0, metadata={"help": "GPUs per task (slurm, ray): one vLLM server each."})
    slurm_partition: str | None = field(default=None, metadata={"help": "Slurm partition (executor: slurm)."})
    slurm_time: str | None = field(default=None, metadata={"help": "Slurm time limit per task, e.g. 24:00:00."})
    slurm_env_command: str | None = field(
        default=None, metadata={"help": "Shell line run before each Slurm task, e.g. `source .venv/bin/activate`."}
    )
    ray_address: str | None = field(
        default=None, metadata={"help": "Ray cluster address for ray.init (executor: ray; default: start one)."}
    )

    def __post_init__(self) -> None:
        check_executor(self)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # an import hook that refuses the module, or a half-removed one
        return False


def check_executor(config: ExecutorConfig) -> None:
    """ValueError naming the key, before any work, for settings that cannot run."""
    name = config.executor
    if name not in EXECUTORS:
        raise ValueError(f"executor: unknown {name!r}; choose one of {', '.join(EXECUTORS)}")
    slurm_set = [f.name for f in dataclasses.fields(config) if f.name.startswith("slurm_") and getattr(config, f.name)]
    if slurm_set and name != "slurm":
        raise ValueError(f"{slurm_set[0]} is set but executor is {name!r}, not 'slurm'")
    if config.ray_address and name != "ray":
        raise ValueError(f"ray_address is set but executor is {name!r}, not 'ray'")
    if name == "embedded":
        return
    if not _installed("datatrove"):
        raise ValueError(f"executor: {name} needs datatrove, which is not installed: {INSTALL_HINT}")
    if name == "ray" and not _installed("ray"):
        raise ValueError("executor: ray needs ray, which is not installed: pip install ray")
    if name == "slurm" and not config.slurm_partition:
        raise ValueError("executor: slurm needs slurm_partition")
    if config.tasks < 1:
        raise ValueError(f"tasks must be >= 1, got {config.tasks}")
    if config.workers == 0 or config.workers < -1:
        raise ValueError(f"workers must be >= 1 or -1 (all tasks at once), got {config.workers}")


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ExecutorConfig`` keys as ``--flags`` of an argparse stage (decontaminate)."""
    for f in dataclasses.fields(ExecutorConfig):
        kind = int if f.type in ("int", int) else str
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=f.default,
                            help=f.metadata["help"])  # fmt: skip


def executor_from_args(args: argparse.Namespace) -> ExecutorConfig:
    try:
        return ExecutorConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(ExecutorConfig)})
    except ValueError as err:
        raise RecipeError(str(err)) from None


def fingerprint(values: dict[str, Any]) -> str:
    from tulu_recipes.generation.executor import item_id

    return item_id(values)[:12]


def run_dir(config: ExecutorConfig, default_base: str | Path, stage: str, inputs: dict[str, Any]) -> Path:
    """``<pipeline_dir>/<stage>-<tasks>t-<hash of inputs>``: other inputs or task counts get other markers."""
    base = Path(config.pipeline_dir) if config.pipeline_dir else Path(f"{default_base}.datatrove")
    return base / f"{stage}-{config.tasks}t-{fingerprint({**inputs, 'tasks': config.tasks})}"


def reopen_failed(folder: Path) -> list[int]:
    """Delete the completion markers of tasks that wrote ``failed/<rank>.json`` (items that still failed), so
    the next run retries them; returns those ranks. datatrove marks a task complete when it did not raise."""
    reopened = []
    for path in sorted((folder / "failed").glob("*.json")):
        rank = int(path.stem)
        if json.loads(path.read_text()).get("failed", 0):
            (folder / "logs" / "completions" / f"{rank:05d}").unlink(missing_ok=True)
            reopened.append(rank)
    return reopened


def _make(config: ExecutorConfig, pipeline: list, tasks: int, logs: Path, name: str, depends: Any = None, **kw):
    workers = config.workers if tasks > 1 else 1
    if config.executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        # fork, as the embedded scan: workers inherit the imports and what the driver loaded (the evaluation
        # index), instead of a forkserver child importing and loading them again per worker.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "forkserver"
        return LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=str(logs), depends=depends,
                                     start_method=method, **kw)  # fmt: skip
    if config.executor == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        return SlurmPipelineExecutor(
            pipeline,
            tasks=tasks,
            workers=workers,
            time=config.slurm_time or "24:00:00",
            partition=config.slurm_partition,
            cpus_per_task=config.cpus_per_task,
            gpus_per_task=config.gpus_per_task,
            env_command=config.slurm_env_command,
            job_name=f"tulu-{name}",
            logging_dir=str(logs),
            depends=depends,
            **kw,
        )
    from datatrove.executor import RayPipelineExecutor

    return RayPipelineExecutor(
        pipeline,
        tasks=tasks,
        workers=workers,
        cpus_per_task=config.cpus_per_task,
        gpus_per_task=config.gpus_per_task,
        logging_dir=str(logs),
        depends=depends,
        **kw,
    )


def run_sharded(
    config: ExecutorConfig,
    folder: Path,
    stage: str,
    task_pipeline: list[Callable | Any],
    merge_pipeline: list[Callable | Any],
) -> bool:
    """Run ``task_pipeline`` on ``config.tasks`` tasks, then ``merge_pipeline`` once; True when finished here.

    Tasks with a completion marker in ``folder/logs`` are skipped (datatrove); the merge always runs again. On
    Slurm the jobs are submitted (the merge after every task, by dependency) and False is returned.
    """
    folder.mkdir(parents=True, exist_ok=True)
    reopen_failed(folder)
    tasks = _make(config, task_pipeline, config.tasks, folder / "logs", stage)
    merge = _make(config, merge_pipeline, 1, folder / "merge-logs", f"{stage}-merge", depends=tasks,
                  skip_completed=False)  # fmt: skip
    if config.executor == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(address=config.ray_address)
    os.environ.setdefault("DATATROVE_COLORIZE_LOGS", "0")
    merge.run()
    return config.executor != "slurm"
