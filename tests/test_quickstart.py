"""The README's main job: `bash recipes/quickstart/run.sh OUT` end to end (SFT -> on-policy pairs -> DPO -> RLVR ->
evaluation) on the tiny offline model, on CPU. Takes several minutes: it is the whole recipe."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

STAGES = ["base", "SFT", "DPO", "RLVR"]


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory, repo_root):
    out = tmp_path_factory.mktemp("quickstart")
    began = time.time()
    proc = subprocess.run(
        ["bash", str(repo_root / "recipes" / "quickstart" / "run.sh"), str(out)],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=1800,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout, time.time() - began


def test_every_stage_leaves_its_model(quickstart_run):
    out, stdout, _ = quickstart_run
    for stage in ("sft", "dpo", "rlvr"):
        assert (out / stage / "model.safetensors").is_file(), stage
    pairs = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    assert len(pairs) >= 20
    assert all(p["chosen_rating"] > p["rejected_rating"] and p["chosen"][:-1] == p["rejected"][:-1] for p in pairs)
    assert "On-policy pairs:" in stdout and "Quickstart finished in" in stdout


def test_final_table_reports_each_stage(quickstart_run):
    out, stdout, seconds = quickstart_run
    results = json.loads((out / "eval" / "results.json").read_text())
    assert results["models"] == STAGES and results["num_examples"] == {"eval": 200}
    accuracy = {m: results["scores"][m]["eval"]["accuracy"] for m in STAGES}
    table = (out / "eval" / "results.md").read_text()
    for stage in STAGES:
        assert f"| {stage} | {100 * accuracy[stage]:.1f} |" in table
        assert f"| {stage} | {100 * accuracy[stage]:.1f} |" in stdout  # printed at the end of the run
    assert (out / "eval" / "results.png").read_bytes()[:4] == b"\x89PNG"
    print(f"quickstart: {seconds:.0f}s, accuracy {accuracy}")
    # The random base model never answers. SFT imitates a mix of worked answers and guesses (data.py); DPO on
    # on-policy pairs judged by the verifier, then RLVR with the verifier as reward, each move it further toward
    # working the problem out. The margins leave room for other machines' floating point; README has the numbers.
    assert accuracy["base"] == 0.0
    assert accuracy["SFT"] >= 0.15
    assert accuracy["DPO"] >= accuracy["SFT"] + 0.05
    assert accuracy["RLVR"] >= accuracy["DPO"] + 0.15
    changes = f"RLVR {100 * (accuracy['RLVR'] - accuracy['DPO']):+.1f}"
    assert changes in table and changes in stdout
