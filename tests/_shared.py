"""Locate the shared evaluation data next to the repository (``../shared/data``); never copy it in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# Trainer settings of a quiet, seeded CPU test run (fp32, nothing reported or saved, no progress bars).
QUIET_CPU = dict(
    use_cpu=True,
    bf16=False,
    gradient_checkpointing=False,
    report_to="none",
    save_strategy="no",
    disable_tqdm=True,
    seed=0,
)


def shared_data(name: str) -> Path:
    """Path of ``name`` under the shared data folder, or skip the calling test when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("TULU_REQUIRE_SHARED_DATA") == "1":  # set by .ci/run: in CI the data must be there
            pytest.fail(f"shared data file {path} is absent but TULU_REQUIRE_SHARED_DATA=1")
        pytest.skip(f"shared data file {path} is absent (expected next to the repository in ../shared/data)")
    return path


def torchrun(nproc: int = 2) -> list[str]:
    """The command prefix that starts `nproc` local processes (gloo on CPU) on a free loopback port."""
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port", str(port)]


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the SHA-256 of its bytes."""
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def rlvr_error_before_the_model_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[dict]) -> str:
    """Run the RLVR stage (tiny GRPO recipe) on `rows` and return its one-line RecipeError; fail if it loads the
    model first (a bad training row must stop the run before anything heavy starts)."""
    import json

    import yaml

    from tulu_recipes.config import RecipeError
    from tulu_recipes.stages import rlvr, skeleton

    data = tmp_path / "rlvr.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    recipe = {
        "algorithm": "grpo",
        "model_name_or_path": str(Path(__file__).resolve().parents[1] / "recipes" / "quickstart" / "tiny-base"),
        "dataset_mixer": [{"path": str(data), "count": len(rows)}],
        "output_dir": str(tmp_path / "out"),
        "use_cpu": True,
        "bf16": False,
        "report_to": "none",
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")

    def no_model(*args, **kwargs):
        raise AssertionError("the model loaded")

    monkeypatch.setattr(skeleton, "load_model", no_model)
    with pytest.raises(RecipeError) as err:
        rlvr.main([str(path)])
    return str(err.value)
