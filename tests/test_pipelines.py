"""The data stages as datatrove pipelines: the same bytes as the embedded path with LocalPipelineExecutor(tasks=4,
workers=2), a resume after lost tasks or a SIGKILLed worker, and the executor keys' one-line errors."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

pytest.importorskip("datatrove")

from tulu_recipes.config import run_cli  # noqa: E402
from tulu_recipes.pipelines import executors  # noqa: E402
from tulu_recipes.pipelines.shards import row_range  # noqa: E402
from tulu_recipes.stages import decontaminate as decon_stage  # noqa: E402

try:
    from tests.openai_server import ChatServer, Reply, last_user_text
    from tests.test_generation_if_preferences import ROWS as IF_ROWS
    from tests.test_generation_if_preferences import respond as if_respond
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from openai_server import ChatServer, Reply, last_user_text
    from test_generation_if_preferences import ROWS as IF_ROWS
    from test_generation_if_preferences import respond as if_respond

LOCAL = ["--executor", "local", "--tasks", "4", "--workers", "2"]


def test_row_ranges_are_contiguous_and_cover_every_row_once() -> None:
    assert [row_range(10, r, 4) for r in range(4)] == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert [row_range(2, r, 4) for r in range(4)] == [(0, 1), (1, 2), (2, 2), (2, 2)]
    with pytest.raises(ValueError):
        row_range(5, 4, 4)


# --- decontamination ---------------------------------------------------------------------------------------------

EVAL = [f"instance {i} asks about " + " ".join(f"w{i}x{j}" for j in range(10)) for i in range(10)]


def write_decontamination_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """120 rows in 3 sources; `leaky` holds eval instances 3 and 7 verbatim, at rows 29 and 91 (task edges)."""
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps({"question": q}) + "\n" for q in EVAL))
    rows = []
    for i in range(120):
        text = f"row {i} talks about something else entirely, number {i}"
        source = ("clean", "leaky", "other")[i % 3]
        if i == 29:
            text, source = f"Please answer: {EVAL[3]}", "leaky"
        if i == 91:
            text, source = EVAL[7].upper(), "leaky"
        rows.append({"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}],
                     "source": source})  # fmt: skip
    mix = tmp_path / "mix.jsonl"
    mix.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return mix, bench


def decontaminate(mix: Path, bench: Path, out: Path, *extra: str) -> None:
    argv = ["--train", str(mix), "--eval", f"bench={bench}:question", "--mode", "drop-instances"]
    run_cli(decon_stage.main, [*argv, "--out-dir", str(out), *extra])


def test_decontamination_on_datatrove_writes_the_embedded_files_and_resumes(tmp_path: Path) -> None:
    mix, bench = write_decontamination_inputs(tmp_path)
    decontaminate(mix, bench, tmp_path / "embedded")
    decontaminate(mix, bench, tmp_path / "dt", *LOCAL)
    names = ["decontamination.json", "decontamination.md", "mix.jsonl"]
    for name in names:
        assert (tmp_path / "dt" / name).read_bytes() == (tmp_path / "embedded" / name).read_bytes(), name
    report = json.loads((tmp_path / "dt" / "decontamination.json").read_text())
    leaky = next(c for c in report["cells"] if c["source"] == "leaky")
    assert leaky["overlapping"] == [3, 7] and leaky["contaminated"]  # 2/10 > 2%
    assert report["flagged_rows"] == {"clean": [], "leaky": [29, 91], "other": []}
    assert len((tmp_path / "dt" / "mix.jsonl").read_text().splitlines()) == 118

    # Two tasks lost (no completion marker), one of them with a torn pairs file: only those two run again.
    (run,) = (tmp_path / "dt" / "decontamination.datatrove").iterdir()
    assert sorted(p.name for p in (run / "pairs").iterdir()) == [f"{r:05d}.npz" for r in range(4)]
    for rank in (1, 3):
        (run / "logs" / "completions" / f"{rank:05d}").unlink()
    (run / "pairs" / "00003.npz").write_bytes(b"torn")
    kept_mtime = (run / "pairs" / "00000.npz").stat().st_mtime_ns
    (tmp_path / "dt" / "mix.jsonl").unlink()
    decontaminate(mix, bench, tmp_path / "dt", *LOCAL)
    assert (run / "pairs" / "00000.npz").stat().st_mtime_ns == kept_mtime  # task 0 was skipped
    for name in names:
        assert (tmp_path / "dt" / name).read_bytes() == (tmp_path / "embedded" / name).read_bytes(), name


def test_two_inputs_and_more_tasks_than_rows_give_the_embedded_files(tmp_path: Path) -> None:
    mix, bench = write_decontamination_inputs(tmp_path)
    lines = mix.read_text().splitlines(keepends=True)
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_text("".join(lines[:3]))  # 3 rows over 8 tasks: five empty ranges
    large.write_text("".join(lines[3:]))
    argv = ["--train", f"s={small}", "--train", f"l={large}", "--eval", f"bench={bench}:question", "--mode",
            "drop-instances"]  # fmt: skip
    run_cli(decon_stage.main, [*argv, "--out-dir", str(tmp_path / "embedded")])
    run_cli(decon_stage.main, [*argv, "--out-dir", str(tmp_path / "dt"), "--executor", "local", "--tasks", "8"])
    for name in ["decontamination.json", "decontamination.md", "s.jsonl", "l.jsonl"]:
        assert (tmp_path / "dt" / name).read_bytes() == (tmp_path / "embedded" / name).read_bytes(), name
    report = json.loads((tmp_path / "dt" / "decontamination.json").read_text())
    assert report["flagged_rows"] == {"s": [], "l": [26, 88]}  # rows 29 and 91 of the mixture


# --- generation --------------------------------------------------------------------------------------------------


def synth_responder(delay: float = 0.0):
    def respond(request: dict) -> Reply:
        text = last_user_text(request)
        if text.startswith("Write one"):
            persona = text.split("Persona: ", 1)[1].split("\n", 1)[0]
            return Reply(content=f"What does a {persona} need?", delay=delay)
        return Reply(content=f"an answer to: {text.splitlines()[0].lower()}", delay=delay)

    return respond


def run_stage(stage: str, recipe: dict, tmp_path: Path, output: str, *extra: str) -> Path:
    from tulu_recipes.pipelines.cli import if_preferences_main, preferences_main, synthesize_main

    main = {"synthesize": synthesize_main, "preferences": preferences_main, "if-preferences": if_preferences_main}
    path = tmp_path / f"{stage}-{output}.yaml"
    path.write_text(yaml.safe_dump({**recipe, "output_path": str(tmp_path / output)}))
    run_cli(main[stage], [str(path), *extra])
    return tmp_path / output


def assert_same_output(stage: str, recipe: dict, tmp_path: Path) -> list[dict]:
    embedded = run_stage(stage, recipe, tmp_path, "embedded.jsonl")
    sharded = run_stage(stage, recipe, tmp_path, "dt.jsonl", *LOCAL)
    assert sharded.read_bytes() == embedded.read_bytes()
    return [json.loads(line) for line in sharded.read_text().splitlines()]


def synth_recipe(tmp_path: Path, server: ChatServer) -> dict:
    """A synthesis recipe: 7 personas (one twice), IF and math skills, every model call answered by ``server``."""
    personas = tmp_path / "personas.txt"
    personas.write_text("\n".join(["chef", "pilot", "chef", "poet", "nurse", "miner", "judge"]))
    return {"personas": str(personas), "skills": ["if", "math"], "verified_only": False, "progress": False,
            "prompt_model": {"name": "stub", "base_url": server.base_url}}  # fmt: skip


def test_synthesize_on_datatrove_writes_the_embedded_rows(tmp_path: Path) -> None:
    with ChatServer(synth_responder()) as server:
        recipe = synth_recipe(tmp_path, server)
        rows = assert_same_output("synthesize", recipe, tmp_path)
        assert len(server.requests) == 2 * 2 * 12  # 12 items, 2 calls each, once per path: no task redid any
    assert [(r["skill"], r["persona"]) for r in rows] == [
        (s, p) for s in ("if", "math") for p in ("chef", "pilot", "poet", "nurse", "miner", "judge")
    ]


QUALITY = {"pool-a": 5, "pool-b": 3, "pool-c": 1}


def prefs_respond(request: dict) -> Reply:
    text = last_user_text(request)
    if not text.startswith("You are grading"):
        return Reply(content=f"{request['model']} says: answer to {text}")
    model = text.split("### Response\n", 1)[1].split(" says:", 1)[0]
    return Reply(content=f"Rating: {QUALITY[model]}")


def prefs_recipe(tmp_path: Path, server: ChatServer) -> dict:
    """A preferences recipe: 6 prompts, the QUALITY pool two at a time and a judge, all answered by ``server``."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"messages": f"question {i}"}) + "\n" for i in range(6)))
    pool = [{"name": name, "base_url": server.base_url} for name in QUALITY]
    judge = {"name": "judge", "base_url": server.base_url}
    return {"prompts": str(prompts), "models": pool, "models_per_prompt": 2, "aspects": ["helpfulness"],
            "judge_model": judge, "progress": False, "seed": 1}  # fmt: skip


def test_preferences_on_datatrove_writes_the_embedded_pairs(tmp_path: Path) -> None:
    with ChatServer(prefs_respond) as server:
        recipe = prefs_recipe(tmp_path, server)
        pairs = assert_same_output("preferences", recipe, tmp_path)
    assert [p["chosen"][0]["content"] for p in pairs] == [f"question {i}" for i in range(6)]
    for pair in pairs:
        assert pair["chosen_rating"] == QUALITY[pair["chosen_model"]] > pair["rejected_rating"]


def test_if_preferences_on_datatrove_writes_the_embedded_pairs(tmp_path: Path) -> None:
    prompts = tmp_path / "persona_if.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in IF_ROWS))
    with ChatServer(if_respond) as server:
        spec = {"name": "answerer", "base_url": server.base_url}
        recipe = {"prompts": str(prompts), "rewrite_model": spec, "progress": False, "seed": 3}
        pairs = assert_same_output("if-preferences", recipe, tmp_path)
    # 4 rows with a constraint, one per task: the sea and the fruits are kept, "Say hello." and the postscript not
    assert [p["chosen"][0]["content"].split(".")[0] for p in pairs] == ["Describe the sea", "Name three fruits"]


def test_a_sigkilled_worker_then_a_restart_gives_the_same_rows_without_duplicates(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    personas = tmp_path / "personas.txt"
    personas.write_text("\n".join(f"persona {i}" for i in range(16)))
    with ChatServer(synth_responder(delay=0.05)) as server:
        recipe = {"personas": str(personas), "skills": ["math"], "progress": False, "max_concurrency": 1,
                  "prompt_model": {"name": "stub", "base_url": server.base_url}}  # fmt: skip
        expected = run_stage("synthesize", recipe, tmp_path, "embedded.jsonl").read_bytes()
        server.requests.clear()

        def first_run() -> None:  # a forked child: the test's imports, its own process group to kill
            os.setsid()
            run_stage("synthesize", recipe, tmp_path, "dt.jsonl", *LOCAL)

        driver = multiprocessing.get_context("fork").Process(target=first_run)
        driver.start()
        victim = None
        try:
            deadline = time.monotonic() + 120
            while victim is None and time.monotonic() < deadline and driver.is_alive():
                for proc in psutil.Process(driver.pid).children(recursive=True):
                    try:
                        caches = [f.path for f in proc.open_files() if "/cache/" in f.path]
                    except psutil.Error:
                        continue
                    if caches and len(Path(caches[0]).read_text().splitlines()) >= 2:
                        victim = proc
                        break
                time.sleep(0.02)
            assert victim is not None, "no worker was seen writing its cache"
            victim.send_signal(signal.SIGKILL)  # a worker dies mid-task...
            time.sleep(0.3)
        finally:
            os.killpg(driver.pid, signal.SIGKILL)  # ...and the run with it (its pool would wait forever)
            driver.join()
        (run,) = (tmp_path / "dt.jsonl.datatrove").iterdir()
        assert len(list((run / "logs" / "completions").glob("*"))) < 4
        before = len(server.requests)
        run_stage("synthesize", recipe, tmp_path, "dt.jsonl", *LOCAL)  # the restart
        asked = Counter(last_user_text(r).split("Persona: ", 1)[1].split("\n", 1)[0]
                        for r in server.requests if last_user_text(r).startswith("Write one"))  # fmt: skip
    assert (tmp_path / "dt.jsonl").read_bytes() == expected
    ids = [json.loads(line)["id"] for line in (tmp_path / "dt.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 16
    for cache in (run / "cache").glob("*.jsonl"):
        cached = [json.loads(line)["id"] for line in cache.read_text().splitlines()]
        assert len(cached) == len(set(cached)), cache
    # lossless: the restart asked only for what was not finished; at most the two items in flight were asked twice
    assert sum(asked.values()) <= 16 + 2 and set(asked) == {f"persona {i}" for i in range(16)}
    assert len(server.requests) - before < 2 * 16


# --- executor keys -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "missing", "message"),
    [
        (["--executor", "spark"], set(), "error: executor: unknown 'spark'; choose one of embedded, local, slurm, ray"),
        (["--slurm-partition", "gpu"], set(), "error: slurm_partition is set but executor is 'embedded', not 'slurm'"),
        (["--executor", "ray", "--ray-address", "auto"], {"ray"}, "error: executor: ray needs ray, which is not "
         "installed: pip install ray"),
        (["--executor", "slurm", "--slurm-partition", "cpu"], {"datatrove"}, "error: executor: slurm needs datatrove, "
         "which is not installed: pip install 'tulu-recipes[datatrove]'"),
        (["--executor", "local", "--workers", "0"], set(), "error: workers must be >= 1 or -1 (all tasks at once), "
         "got 0"),
    ],
)  # fmt: skip
def test_bad_executor_keys_exit_2_in_one_line_before_any_work(tmp_path, capsys, monkeypatch, extra, missing, message):
    real = executors._installed
    monkeypatch.setattr(executors, "_installed", lambda module: module not in missing and real(module))
    with pytest.raises(SystemExit) as exit_info:
        decontaminate(tmp_path / "absent.jsonl", tmp_path / "absent-bench.jsonl", tmp_path / "out", *extra)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == message
    assert not (tmp_path / "out").exists()


def test_a_slurm_key_in_a_generation_recipe_with_another_executor_is_one_line(tmp_path, capsys) -> None:
    recipe = {"prompts": str(tmp_path / "absent.jsonl"), "executor": "local", "slurm_time": "1:00:00"}
    with pytest.raises(SystemExit) as exit_info:
        run_stage("preferences", recipe, tmp_path, "prefs.jsonl")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: invalid recipe") and err.endswith(
        "slurm_time is set but executor is 'local', not 'slurm'"
    )
    assert len(err.splitlines()) == 1 and not (tmp_path / "prefs.jsonl.datatrove").exists()


def test_embedded_records_come_back_in_item_order_not_completion_order(tmp_path: Path) -> None:
    from tulu_recipes.generation.executor import item_id, records_in_item_order

    items = [{"n": n} for n in range(4)]
    cache = tmp_path / "cache.jsonl"
    finished = [items[2], items[0], items[3], items[2]]  # completion order, with a duplicate line
    cache.write_text("".join(json.dumps({"id": item_id(i), "input": i, "output": {}}) + "\n" for i in finished))
    assert [r["input"]["n"] for r in records_in_item_order(cache, items)] == [0, 2, 3]


def test_slurm_keys_reach_the_slurm_executor_and_the_merge_depends_on_the_tasks(tmp_path: Path) -> None:
    """No sbatch here: the executors are built, not run."""
    from datatrove.executor import SlurmPipelineExecutor

    config = executors.ExecutorConfig(executor="slurm", slurm_partition="cpu", slurm_time="01:00:00", tasks=8,
                                      gpus_per_task=1, slurm_env_command="source .venv/bin/activate")  # fmt: skip
    tasks = executors._make(config, [], 8, tmp_path / "logs", "decontaminate")
    merge = executors._make(config, [], 1, tmp_path / "merge", "merge", depends=tasks, skip_completed=False)
    assert isinstance(tasks, SlurmPipelineExecutor) and isinstance(merge, SlurmPipelineExecutor)
    assert (tasks.partition, tasks.time, tasks.tasks, tasks.gpus_per_task) == ("cpu", "01:00:00", 8, 1)
    assert tasks.env_command == "source .venv/bin/activate"
    assert merge.depends is tasks and merge.tasks == 1 and not merge.skip_completed


WITHOUT_DATATROVE = """
import importlib.abc, json, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "datatrove":
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Refuse())
from tulu_recipes.config import run_cli
from tulu_recipes.stages.decontaminate import main
argv, out = json.loads(sys.argv[1]), sys.argv[2]
run_cli(main, [*argv, "--out-dir", f"{out}/embedded"])
run_cli(main, [*argv, "--out-dir", f"{out}/local", "--executor", "local"])
"""


def test_without_datatrove_the_embedded_path_runs_and_local_is_one_line(tmp_path: Path) -> None:
    """The core install stays lean: nothing imports datatrove unless a datatrove executor is chosen."""
    import subprocess
    import sys

    mix, bench = write_decontamination_inputs(tmp_path)
    argv = json.dumps(["--train", str(mix), "--eval", f"bench={bench}:question"])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", WITHOUT_DATATROVE, argv, str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-2000:]  # the embedded run finished, the local one stopped
    assert json.loads((tmp_path / "embedded" / "decontamination.json").read_text())["flagged_rows"]["leaky"] == [29, 91]
    assert done.stderr.strip().splitlines()[-1] == (
        "error: executor: local needs datatrove, which is not installed: pip install 'tulu-recipes[datatrove]'"
    )
    assert not (tmp_path / "local").exists()
