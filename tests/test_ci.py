"""CI runs exactly the README's commands, and constraints.txt pins every dependency within pyproject's ranges."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11 (CI's)


def readme_setup_commands(readme: str) -> list[str]:
    section = readme.split("## Set up and test", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README's 'Set up and test' section has no bash block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readme_commands_in_order(repo_root):
    commands = readme_setup_commands((repo_root / "README.md").read_text(encoding="utf-8"))
    assert any("-c constraints.txt" in c for c in commands)
    ci = [line.strip() for line in (repo_root / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    ci = [line for line in ci if line and not line.startswith("#")]
    positions = [ci.index(c) if c in ci else -1 for c in commands]
    assert -1 not in positions, f"README commands missing from .ci/run: {commands}"
    assert positions == sorted(positions)


def test_constraints_pin_every_dependency_inside_its_range(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    pins: dict[str, str] = {}
    for line in (repo_root / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not a `name==version` pin"
            pins[canonicalize_name(name)] = version.strip()
    assert "torch" in pins
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt has no pin for {req.name} (refresh it: see README)"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} outside {req}"


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["check", "format"])
def test_the_repository_is_ruff_clean(repo_root, command):
    """CI runs the README's test command only, so lint and format are checked here (ruff is in `.[dev]`)."""
    proc = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=repo_root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
