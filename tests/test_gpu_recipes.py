"""What a first GPU run reads before anything starts: vLLM's context bound in every vLLM recipe, the install extras
inside TRL's declared ranges, and recipe headers that only name files which exist."""

from __future__ import annotations

import importlib.metadata
import re
import shlex
from pathlib import Path

import pytest
import trl
from packaging.requirements import Requirement
from packaging.version import Version

from tulu_recipes.config import load_yaml


def shipped_recipes(repo_root: Path) -> list[str]:
    """The recipes of this checkout (the installed package may point at another one)."""
    return sorted(str(p.relative_to(repo_root / "recipes")) for p in (repo_root / "recipes").rglob("*.yaml"))


RELEASE_PROMPT_LIMIT = 2048  # the release's --max_prompt_token_length, also for recipes without the key (GRPO)


def recipe_header(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:])
    return "\n".join(lines)


def header_commands(header: str) -> list[list[str]]:
    """The shell commands of a header (indented lines, `\\` continuations joined), split into words."""
    commands, current = [], ""
    for line in header.splitlines():
        if not current and not line.startswith("   "):
            continue
        current += " " + line.strip().removesuffix("\\")
        if not line.rstrip().endswith("\\"):
            text = current.split("#", 1)[0]
            try:
                commands.append(shlex.split(text))
            except ValueError:  # an indented prose line with an apostrophe
                commands.append(text.split())
            current = ""
    return commands


def vllm_recipes(repo_root: Path) -> list[str]:
    return [n for n in shipped_recipes(repo_root) if load_yaml(repo_root / "recipes" / n).get("use_vllm")]


def test_the_paper_rlvr_recipes_use_vllm(repo_root):
    assert set(vllm_recipes(repo_root)) >= {"tulu3-8b/rlvr.yaml", "tulu3-8b/rlvr-grpo.yaml", "tulu3-70b/rlvr.yaml"}


@pytest.mark.parametrize("name", ["tulu3-8b/rlvr.yaml", "tulu3-8b/rlvr-grpo.yaml", "tulu3-70b/rlvr.yaml"])
def test_vllm_context_is_bounded_by_prompt_plus_completion(repo_root, name):
    assert name in vllm_recipes(repo_root)
    recipe = load_yaml(repo_root / "recipes" / name)
    bound = recipe.get("vllm_max_model_length")
    assert bound is not None, f"{name}: vLLM would size its KV cache for the model's full context"
    needed = recipe.get("max_prompt_length", RELEASE_PROMPT_LIMIT) + recipe["max_completion_length"]
    assert bound >= needed == 4096
    # 16 GiB per 131,072-token sequence (Llama 3.1 8B, bf16): at 4,096 tokens one sequence needs 0.5 GiB
    assert 16 * bound / 131072 == 0.5
    if recipe.get("vllm_mode", "colocate") == "server":  # the bound travels with the server's own command
        serve = [c for c in header_commands(recipe_header(repo_root / "recipes" / name)) if "vllm-serve" in c]
        assert serve, f"{name}: no `trl vllm-serve` command in the header"
        words = serve[0]
        assert "--max_model_len" in words and int(words[words.index("--max_model_len") + 1]) == bound


def test_every_shipped_vllm_recipe_sets_the_bound(repo_root):
    missing = [
        n for n in vllm_recipes(repo_root) if "vllm_max_model_length" not in load_yaml(repo_root / "recipes" / n)
    ]
    assert missing == []


# --- extras vs TRL's metadata -------------------------------------------------------------------------------------


def our_extras(repo_root: Path) -> dict[str, list[Requirement]]:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    extras = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return {name: [Requirement(r) for r in reqs] for name, reqs in extras.items()}


def trl_extra(extra: str) -> list[Requirement]:
    out = []
    for line in importlib.metadata.requires("trl") or []:
        req = Requirement(line)
        if req.marker is not None and req.marker.evaluate({"extra": extra}):
            req.marker = None
            out.append(req)
    return out


def probe_versions(*specs) -> list[Version]:
    """Each boundary version of the specifiers and its neighbours: enough to tell if one range is inside another."""
    out = set()
    for spec in specs:
        for s in spec:
            v = Version(s.version)
            major, minor, micro = (list(v.release) + [0, 0])[:3]
            out |= {
                v,
                Version(f"{major}.{minor}.{micro + 1}"),
                Version(f"{major}.{minor + 1}"),
                Version(f"{major + 1}"),
            }
            if micro:
                out.add(Version(f"{major}.{minor}.{micro - 1}"))
            if minor:
                out.add(Version(f"{major}.{minor - 1}.99"))
    return sorted(out)


@pytest.mark.parametrize(("ours", "theirs"), [("vllm", "vllm"), ("liger", "liger"), ("deepspeed", "deepspeed")])
def test_extras_stay_inside_trls_declared_ranges(repo_root, ours, theirs):
    mine = {r.name: r for r in our_extras(repo_root)[ours]}
    declared = trl_extra(theirs)
    assert declared, f"TRL {trl.__version__} declares no `{theirs}` extra"
    for req in declared:
        if not req.specifier:
            continue
        assert req.name in mine, f"extra {ours!r} lacks {req.name} (TRL needs {req})"
        spec = mine[req.name].specifier
        probes = probe_versions(spec, req.specifier)
        outside = [str(v) for v in probes if spec.contains(v) and not req.specifier.contains(v)]
        assert outside == [], f"extra {ours!r} admits {req.name} {outside}, outside TRL's {req.specifier}"
        assert any(spec.contains(v) for v in probes), f"extra {ours!r} admits no {req.name} that TRL accepts"


def test_vllm_window_matches_trls_runtime_check():
    """TRL's import check warns outside its window; the newest vLLM published (0.33) and the old floor are out."""
    import tomllib

    from tulu_recipes.cli import __file__ as cli_file

    pyproject = Path(cli_file).resolve().parents[1] / "pyproject.toml"
    vllm = next(
        Requirement(r)
        for r in tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["vllm"]
        if r.startswith("vllm")
    )
    assert [vllm.specifier.contains(v) for v in ("0.10.2", "0.21.9", "0.22.0", "0.31.0", "0.31.1", "0.33.0")] == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]


# --- files named in recipe headers --------------------------------------------------------------------------------

PATH_TOKEN = re.compile(r"[\w./-]+\.(?:yaml|json|sh|py|jinja)\b")


def header_paths(repo_root: Path, name: str) -> list[tuple[str, Path | None]]:
    """(token, where it must exist) for every file path in a recipe's header; None where it names no local file."""
    recipe = repo_root / "recipes" / name
    header = recipe_header(recipe)
    trl_root = Path(trl.__file__).parent
    out = []
    for token in sorted(set(PATH_TOKEN.findall(header))):
        first = token.split("/", 1)[0]
        if "/" not in token:
            # a bare name: a sibling of the recipe (run.sh, sft.yaml), or a file of the release (dpo_tune.py)
            out.append((token, recipe.parent / token if token.endswith((".yaml", ".sh")) else None))
        elif first in {"recipes", "accelerate_configs", "benchmarks", "tulu_recipes", "rewards", "tests"}:
            out.append((token, repo_root / token))
        elif first == "trl":
            out.append((token, trl_root / token.split("/", 1)[1]))
        elif first == "chat_templates":
            out.append((token, repo_root / "tulu_recipes" / token))
        elif first == "path":  # path/to/... placeholders
            out.append((token, None))
        else:
            out.append((token, repo_root / token))
    for words in header_commands(header):
        if "--config_file" in words:
            value = words[words.index("--config_file") + 1]
            out.append((value, repo_root / value))
    return out


def test_every_path_in_a_recipe_header_exists(repo_root):
    missing = []
    for name in shipped_recipes(repo_root):
        for token, where in header_paths(repo_root, name):
            if where is not None and not where.exists():
                missing.append(f"{name}: {token}")
    assert missing == []


def test_header_path_check_sees_the_known_kinds(repo_root):
    paths = dict(header_paths(repo_root, "tulu3-8b/rlvr.yaml"))
    assert paths["accelerate_configs/deepspeed_zero3.yaml"] == repo_root / "accelerate_configs/deepspeed_zero3.yaml"
    assert paths["benchmarks/gpu/rlvr_zero3.sh"].exists()
    grpo = [t for t, _ in header_paths(repo_root, "tulu3-8b/rlvr-grpo.yaml")]
    assert grpo.count("accelerate_configs/deepspeed_zero3.yaml") == 2  # the path token and the --config_file value
