"""The GPU scripts run on CPU against stub `nvidia-smi`, `trl`, `curl` and `accelerate` (tests/_gpu_stubs.py): a
fresh clone, a server that comes up, a server that dies, a missing program."""

from __future__ import annotations

import time
from pathlib import Path

from _gpu_stubs import fresh_clone, run_script, stub_path


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
