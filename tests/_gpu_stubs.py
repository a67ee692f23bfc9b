"""Stand-ins for the programs the GPU scripts call (`nvidia-smi`, `trl`, `curl`, `accelerate`, `python`), so that
the scripts' own logic (folders, server watch, checks, reports) runs on CPU. Each stub records how it was called
in the stub folder."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

NVIDIA_SMI = """#!/usr/bin/env bash
for i in $(seq 0 $((${STUB_GPUS:-1} - 1))); do echo "GPU $i: NVIDIA H100 80GB HBM3 (UUID: GPU-stub-$i)"; done
"""

# `trl vllm-serve`: a healthy server marks itself ready and stays up until killed; a dying one exits at once.
TRL = """#!/usr/bin/env bash
echo "$@" >> "$STUB_DIR/trl.args"
echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES" >> "$STUB_DIR/trl.args"
echo $$ > "$STUB_DIR/server.pid"
if [ "${STUB_SERVER:-healthy}" = dies ]; then
  echo "torch.OutOfMemoryError: CUDA out of memory (stub)"
  exit 3
fi
echo "INFO: Started server process"
touch "$STUB_DIR/ready"
exec sleep 300
"""

CURL = """#!/usr/bin/env bash
echo "$@" >> "$STUB_DIR/curl.args"
for a in "$@"; do case "$a" in */health) [ -f "$STUB_DIR/ready" ] && exit 0;; esac; done
exit 7
"""

# `accelerate launch ... --output_dir OUT`: writes what the scripts check for (saved policy and value model).
ACCELERATE = """#!/usr/bin/env bash
echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES $*" >> "$STUB_DIR/accelerate.args"
out=""
prev=""
for a in "$@"; do [ "$prev" = --output_dir ] && out=$a; prev=$a; done
[ -n "$out" ] && mkdir -p "$out/value_model" && touch "$out/model.safetensors" "$out/value_model/model.safetensors"
exit "${STUB_ACCELERATE_RC:-0}"
"""


def write_stub(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def fresh_clone(tmp_path: Path) -> Path:
    """A copy of what the GPU scripts need from a clone, with no outputs/ folder."""
    clone = tmp_path / "clone"
    shutil.copytree(REPO / "benchmarks" / "gpu", clone / "benchmarks" / "gpu")
    return clone


def stub_path(tmp_path: Path, **extra: str) -> tuple[Path, dict[str, str]]:
    """A folder of stubs and the environment that puts it first on PATH."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, text in {"nvidia-smi": NVIDIA_SMI, "trl": TRL, "curl": CURL, "accelerate": ACCELERATE, **extra}.items():
        write_stub(stubs, name, text)
    env = {**os.environ, "PATH": f"{stubs}:/usr/bin:/bin", "STUB_DIR": str(stubs)}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return stubs, env


def run_script(script: Path, args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(script), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=script.parent
    )


# `accelerate launch ... recipes/<stage>.py ... --output_dir OUT`, as the first-run script calls it: prints what
# the Trainer and vLLM print (logged dicts, vLLM's engine line), and saves the tiny model (and a value model for
# PPO) in OUT. STUB_NAN_STAGE makes one stage log a NaN loss; STUB_NO_VLLM leaves vLLM's lines out.
ACCELERATE_STAGES = """#!/usr/bin/env bash
echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES $*" >> "$STUB_DIR/accelerate.args"
out=""; algo=""; vllm=false; script=""; prev=""
for a in "$@"; do
  case "$prev" in --output_dir) out=$a;; --algorithm) algo=$a;; --use_vllm) vllm=$a;; esac
  case "$a" in recipes/*.py) script=$(basename "$a" .py);; esac
  prev=$a
done
name=${algo:-$script}
loss="'1.25'"
[ "${STUB_NAN_STAGE:-}" = "$name" ] && loss="'nan'"
if [ "$vllm" = true ] && [ -z "${STUB_NO_VLLM:-}" ]; then
  echo "INFO 12-06 08:00:00 [core.py:93] Initializing a V1 LLM engine (v0.31.0) with config: model='$out'"
fi
extra=""
[ "$name" = grpo ] && [ -z "${STUB_NO_VLLM:-}" ] && extra=", 'sampling/sampling_logp_difference/mean': '0.01'"
echo " 50%|#####     | 1/2 {'loss': '1.5', 'grad_norm': '3.0', 'num_tokens': '500', 'epoch': '0.1'$extra}"
echo "100%|##########| 2/2 {'loss': $loss, 'grad_norm': '2.0', 'num_tokens': '1000', 'epoch': '0.2'$extra}"
echo "100%|##########| 2/2 {'train_runtime': '4.0', 'train_samples_per_second': '8.0', 'train_loss': '1.375'}"
mkdir -p "$out"
cp "$TINY_MODEL"/* "$out"/
if [ "$name" = ppo ]; then mkdir -p "$out/value_model" && cp "$TINY_MODEL"/* "$out/value_model"/; fi
"""

# What the first run's preflight imports, for a CPU machine: torch reporting a CUDA GPU, and a vLLM distribution.
SITECUSTOMIZE = """import torch

torch.version.cuda = torch.version.cuda or "12.8"
torch.cuda.is_available = lambda: True
"""


def fake_gpu_python(tmp_path: Path, vllm_version: str = "0.31.0") -> Path:
    """A folder for PYTHONPATH: a sitecustomize that makes torch report a GPU, and a `vllm` package with its
    distribution metadata (version `vllm_version`)."""
    site = tmp_path / "fake_site"
    (site / "vllm").mkdir(parents=True)
    (site / "vllm" / "__init__.py").write_text(f'__version__ = "{vllm_version}"\n')
    dist = site / f"vllm-{vllm_version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {vllm_version}\n")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return site


def first_run_env(tmp_path: Path, vllm_version: str = "0.31.0") -> tuple[Path, Path, dict[str, str]]:
    """(clone, stubs, env) for benchmarks/gpu/first_run.sh on CPU: the stub programs, the real python."""
    import sys

    clone = fresh_clone(tmp_path)
    stubs, env = stub_path(tmp_path, accelerate=ACCELERATE_STAGES)
    write_stub(stubs, "python", f'#!/usr/bin/env bash\nexec {sys.executable} "$@"\n')
    site = fake_gpu_python(tmp_path, vllm_version)
    env.update(
        PYTHONPATH=f"{site}:{REPO}",
        TINY_MODEL=str(REPO / "recipes/quickstart/tiny-base"),
        MODEL=str(REPO / "recipes/quickstart/tiny-base"),
        HF_HUB_OFFLINE="1",
    )
    return clone, stubs, env
