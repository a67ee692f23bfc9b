"""The package a pip user gets: every package listed, recipes shipped and copyable, stages runnable by name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tulu_recipes.cli import copy_recipe, main, shipped_recipes
from tulu_recipes.stages import STAGES


def test_every_python_package_is_listed_in_pyproject(repo_root):
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    listed = set(tomllib.loads((repo_root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top in ("tulu_recipes", "rewards"):
        for init in (repo_root / top).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(repo_root).parts))
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert "tulu_recipes.recipes" in listed


def test_shipped_recipes_list_and_copy(tmp_path):
    names = shipped_recipes()
    assert "quickstart/sft.yaml" in names
    copied = copy_recipe("quickstart/sft.yaml", str(tmp_path))
    assert copied.read_text().startswith("# CPU quickstart")
    with pytest.raises(SystemExit, match="exists; not overwriting"):
        copy_recipe("quickstart/sft.yaml", str(tmp_path))
    with pytest.raises(SystemExit, match="no shipped recipe 'tulu3-8b/nope.yaml'"):
        copy_recipe("tulu3-8b/nope.yaml", str(tmp_path))


def test_every_stage_module_has_a_main():
    import importlib

    for name, module in STAGES.items():
        assert callable(importlib.import_module(module).main), name


def test_console_command_reports_recipe_errors_without_traceback(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model_name_or_path: x\nnum_train_epoch: 1\n")
    with pytest.raises(SystemExit) as err:
        main(["sft", str(recipe)])
    assert err.value.code == 2
    assert "did you mean 'num_train_epochs'?" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="unknown command 'sfd'"):
        main(["sfd"])


def test_stage_runs_as_a_module(tmp_path):
    """`python -m tulu_recipes.stages.sft` (what `accelerate launch -m` runs) reaches the recipe parser."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("learning_rat: 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tulu_recipes.stages.sft", str(recipe)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "did you mean 'learning_rate'" in proc.stderr
