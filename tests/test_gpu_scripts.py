"""The GPU scripts run on CPU against stub `nvidia-smi`, `trl`, `curl` and `accelerate` (tests/_gpu_stubs.py): a
fresh clone, a server that comes up, a server that dies, a missing program."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from _gpu_stubs import REPO, first_run_env, fresh_clone, run_script, stub_path

sys.path.insert(0, str(REPO / "benchmarks" / "gpu"))  # first_run_check.py, the script's checks


def pid_alive(pid: int) -> bool:
    """Whether the process still runs (a zombie waiting for its new parent to reap it has stopped), given a moment
    to handle its SIGTERM."""
    for _ in range(50):
        status = Path(f"/proc/{pid}/status")
        if not status.exists() or "\nState:\tZ" in status.read_text():
            return False
        time.sleep(0.1)
    return True


def test_rlvr_server_mode_on_a_fresh_clone_with_a_healthy_server(tmp_path):
    clone = fresh_clone(tmp_path)
    stubs, env = stub_path(tmp_path)
    result = run_script(clone / "benchmarks/gpu/rlvr_zero3.sh", ["ppo", "server"], {**env, "STUB_GPUS": "3"})
    assert result.returncode == 0, result.stderr
    assert "OK: ppo server ZeRO-3 on 2 training GPU(s)" in result.stdout
    out = clone / "outputs/gpu-bench/ppo-server"
    assert "Started server process" in (out / "vllm.log").read_text()  # the log folder was created
    trl_args = (stubs / "trl.args").read_text().split()
    assert trl_args[:3] == ["vllm-serve", "--model", "recipes/quickstart/tiny-base"]
    assert "CUDA_VISIBLE_DEVICES=0" in trl_args and trl_args[trl_args.index("--max_model_len") + 1] == "512"
    assert "http://127.0.0.1:8000/health" in (stubs / "curl.args").read_text().split()
    launch = (stubs / "accelerate.args").read_text().split()
    assert launch[0] == "CUDA_VISIBLE_DEVICES=1,2" and launch[launch.index("--num_processes") + 1] == "2"
    assert launch[launch.index("--vllm_server_port") + 1] == "8000"
    assert not pid_alive(int((stubs / "server.pid").read_text()))  # the server is stopped on exit


def test_rlvr_server_that_dies_fails_at_once_with_its_log(tmp_path):
    clone = fresh_clone(tmp_path)
    stubs, env = stub_path(tmp_path)
    # the old loop polled 120 x 5 s; the timeout here leaves no room for any waiting loop
    result = run_script(
        clone / "benchmarks/gpu/rlvr_zero3.sh", ["grpo", "server"], {**env, "STUB_GPUS": "2", "STUB_SERVER": "dies"}
    )
    assert result.returncode == 1
    assert "vLLM server exited (status 3) before it was healthy" in result.stderr
    assert "CUDA out of memory (stub)" in result.stderr  # the end of the server's log is shown
    assert not (stubs / "accelerate.args").exists()  # training never started


def test_rlvr_colocate_bounds_vllm_context(tmp_path):
    clone = fresh_clone(tmp_path)
    stubs, env = stub_path(tmp_path)
    result = run_script(clone / "benchmarks/gpu/rlvr_zero3.sh", ["grpo", "colocate"], {**env, "STUB_GPUS": "1"})
    assert result.returncode == 0, result.stderr
    launch = (stubs / "accelerate.args").read_text().split()
    assert launch[launch.index("--vllm_max_model_length") + 1] == "512"
    assert not (stubs / "trl.args").exists()


def test_rlvr_script_names_a_missing_program(tmp_path):
    clone = fresh_clone(tmp_path)
    stubs, env = stub_path(tmp_path)
    (stubs / "accelerate").unlink()
    result = run_script(clone / "benchmarks/gpu/rlvr_zero3.sh", ["ppo", "colocate"], env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        'missing on PATH: accelerate (pip install -e ".[vllm,deepspeed]" on a CUDA machine)'
    ]


# --- benchmarks/gpu/first_run.sh ----------------------------------------------------------------------------------


def test_first_run_trains_every_stage_and_reports_tokens_per_second(tmp_path):
    clone, stubs, env = first_run_env(tmp_path)
    result = run_script(clone / "benchmarks/gpu/first_run.sh", [], env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout[result.stdout.index("stage\ttokens/s") :].splitlines()
    # 1000 tokens in 4.0 s for every stub stage; the tiny model's parameter count from its saved weights
    assert table[1:5] == [f"{name}\t250.0\t1.25\t909056" for name in ("sft", "dpo", "grpo", "ppo")]
    assert "OK: SFT -> DPO -> GRPO, PPO under ZeRO-3 on 1 GPU" in result.stdout
    launches = (stubs / "accelerate.args").read_text().splitlines()
    assert len(launches) == 4
    for line in launches:
        words = line.split()
        assert words[0] == "CUDA_VISIBLE_DEVICES=0" and words[1:3] == ["launch", "--config_file"]
        assert (
            words[3] == "accelerate_configs/deepspeed_zero3.yaml" and words[words.index("--num_processes") + 1] == "1"
        )
    out = "outputs/gpu-first-run"
    assert launches[1].split()[launches[1].split().index("--model_name_or_path") + 1] == f"{out}/sft"
    for line in launches[2:]:
        words = line.split()
        assert words[words.index("--model_name_or_path") + 1] == f"{out}/dpo"
        assert words[words.index("--vllm_mode") + 1] == "colocate"
        assert words[words.index("--vllm_max_model_length") + 1] == "512"
    assert (clone / out / "ppo.log").exists()


def test_first_run_stops_at_a_non_finite_loss(tmp_path):
    clone, stubs, env = first_run_env(tmp_path)
    result = run_script(clone / "benchmarks/gpu/first_run.sh", [], {**env, "STUB_NAN_STAGE": "sft"}, timeout=300)
    assert result.returncode == 2
    assert "first run: sft: non-finite losses in outputs/gpu-first-run/sft.log: loss=nan" in result.stderr
    assert len((stubs / "accelerate.args").read_text().splitlines()) == 1  # DPO, GRPO and PPO never started


def stage_log(tmp_path, *lines: str) -> Path:
    log = tmp_path / "stage.log"
    log.write_text("\n".join(lines) + "\n")
    return log


def saved_tiny(tmp_path, value_model: bool = False) -> Path:
    import shutil

    out = tmp_path / "saved"
    shutil.copytree(REPO / "recipes/quickstart/tiny-base", out)
    if value_model:
        shutil.copytree(REPO / "recipes/quickstart/tiny-base", out / "value_model")
    return out


ENGINE = "INFO [core.py:93] Initializing a V1 LLM engine (v0.31.0) with config: model='x'"
STEP = "100%%|##| 2/2 {'loss': '0.5', 'num_tokens': '300'%s}"
DONE = "{'train_runtime': '2.0', 'train_loss': '0.5'}"


def test_stage_check_needs_vllm_evidence(tmp_path):
    from first_run_check import CheckFailed, check_stage

    out = saved_tiny(tmp_path, value_model=True)
    assert check_stage("ppo", stage_log(tmp_path, ENGINE, STEP % "", DONE), out, True, False, True).split("\t")[:3] == [
        "ppo",
        "150.0",
        "0.5",
    ]
    with pytest.raises(CheckFailed, match="ppo: no vLLM engine in .*: the rollouts were not generated by vLLM"):
        check_stage("ppo", stage_log(tmp_path, STEP % "", DONE), out, True, False, True)
    with pytest.raises(CheckFailed, match="grpo: no vLLM log-prob metrics"):
        check_stage("grpo", stage_log(tmp_path, ENGINE, STEP % "", DONE), out, True, True, False)
    metric = ", 'sampling/sampling_logp_difference/mean': '0.02'"
    check_stage("grpo", stage_log(tmp_path, ENGINE, STEP % metric, DONE), out, True, True, False)


def test_stage_check_reads_losses_and_weights(tmp_path):
    from first_run_check import CheckFailed, check_stage

    out = saved_tiny(tmp_path)
    nan_value = "{'loss': '0.5', 'policy_loss': 'nan', 'num_tokens': '10'}"
    with pytest.raises(CheckFailed, match="dpo: non-finite losses in .*: policy_loss=nan"):
        check_stage("dpo", stage_log(tmp_path, nan_value, DONE), out, False, False, False)
    with pytest.raises(CheckFailed, match="sft: no loss logged"):
        check_stage("sft", stage_log(tmp_path, DONE), out, False, False, False)
    with pytest.raises(CheckFailed, match="value_model: no saved weights"):
        check_stage("ppo", stage_log(tmp_path, ENGINE, STEP % "", DONE), out, True, False, True)


def test_first_run_refuses_a_vllm_outside_trls_window_before_training(tmp_path):
    clone, stubs, env = first_run_env(tmp_path, vllm_version="0.33.0")
    result = run_script(clone / "benchmarks/gpu/first_run.sh", [], env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("first run: vllm 0.33.0 is outside the range TRL supports")
    assert not (stubs / "accelerate.args").exists()


def test_first_run_names_a_missing_model_before_training(tmp_path):
    clone, stubs, env = first_run_env(tmp_path)
    result = run_script(
        clone / "benchmarks/gpu/first_run.sh", [], {**env, "MODEL": str(tmp_path / "nope")}, timeout=120
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"first run: MODEL={tmp_path / 'nope'} is not a model folder (no config.json)"
    )
    assert not (stubs / "accelerate.args").exists()
