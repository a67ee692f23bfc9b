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
