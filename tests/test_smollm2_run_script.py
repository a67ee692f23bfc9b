"""recipes/smollm2-135m/run.sh's control flow, with `echo` standing in for Python: RESUME=1 skips exactly the
stages whose output is already there, and both lanes run every other stage."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

RUN_SH = Path(__file__).resolve().parents[1] / "recipes" / "smollm2-135m" / "run.sh"


def _stages_run(tmp_path: Path, resume: bool, lanes: str) -> str:
    env = {
        **os.environ,
        "PYTHON": "echo",
        "BASE": str(tmp_path / "base"),
        "LANES": lanes,
        "SHARED_DATA": "/nonexistent",
    }
    if resume:
        env["RESUME"] = "1"
    done = subprocess.run(["bash", str(RUN_SH), str(tmp_path / "o")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_resume_skips_only_the_finished_stages(tmp_path):
    (tmp_path / "o" / "rlvr-grpo").mkdir(parents=True)
    (tmp_path / "o" / "rlvr-grpo" / "model.safetensors").write_text("")
    (tmp_path / "o" / "eval").mkdir()
    (tmp_path / "o" / "eval" / "results.json").write_text("{}")
    for lanes in ("1", "2"):
        out = _stages_run(tmp_path, resume=True, lanes=lanes)
        assert "RESUME: " + str(tmp_path / "o" / "rlvr-grpo" / "model.safetensors") in out
        assert "rlvr-grpo.yaml" not in out and "evaluate.yaml " not in out
        for ran in ("rlvr-ppo.yaml", "rlvr-ppo-rm.yaml", "quickstart.on_policy", "stages.dpo", "stages.reward_model",
                    "evaluate-dev.yaml"):  # fmt: skip
            assert ran in out, ran
    out = _stages_run(tmp_path, resume=False, lanes="1")  # without RESUME every stage runs (and would refuse)
    assert "RESUME" not in out and "rlvr-grpo.yaml" in out and "evaluate.yaml " in out


def test_two_lanes_give_each_rlvr_stage_one_thread_and_one_lane_leaves_it_to_the_recipe(tmp_path):
    """Two lanes share 2 cores: a second thread would wait on the other lane's core (1.7x slower measured)."""
    for lanes, expected in (("2", True), ("1", False)):
        out = _stages_run(tmp_path / lanes, resume=False, lanes=lanes)
        rlvr = [line for line in out.splitlines() if "tulu_recipes.stages.rlvr" in line]
        assert len(rlvr) == 3, out
        assert all(line.endswith("--torch_threads 1") == expected for line in rlvr), rlvr
