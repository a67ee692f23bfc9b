"""`attn_implementation` is checked when the recipe is parsed: no kernel is fetched from the Hub at model load."""

from __future__ import annotations

from pathlib import Path

import pytest

from tulu_recipes.config import RecipeError, load_yaml, run_cli
from tulu_recipes.stages import attention
from tulu_recipes.stages.attention import check_attention


def shipped_recipes(repo_root: Path) -> list[str]:
    """The recipes of this checkout (the installed package may point at another one)."""
    return sorted(str(p.relative_to(repo_root / "recipes")) for p in (repo_root / "recipes").rglob("*.yaml"))


@pytest.fixture
def no_flash(monkeypatch):
    """A machine without flash-attn (this one, and any GPU machine where it was not built)."""
    monkeypatch.setattr(attention, "flash_available", lambda name: False)


def test_flash_attention_without_the_package_is_one_line(no_flash):
    with pytest.raises(RecipeError, match=r"`attn_implementation: flash_attention_2` is not available here") as err:
        check_attention("flash_attention_2")
    assert "pip install flash-attn --no-build-isolation" in str(err.value) and "\n" not in str(err.value)


def test_flash_attention_with_the_package_is_accepted(monkeypatch):
    monkeypatch.setattr(attention, "flash_available", lambda name: name == "flash_attention_2")
    check_attention("flash_attention_2")
    with pytest.raises(RecipeError, match="flash_attention_3"):
        check_attention("flash_attention_3")


def test_built_in_implementations_and_unknown_names(no_flash):
    for value in (None, "eager", "sdpa", "flex_attention"):
        check_attention(value)
    with pytest.raises(RecipeError, match=r"unknown implementation 'spda'; use one of eager, sdpa"):
        check_attention("spda")


def test_hub_kernel_offline_is_refused(monkeypatch):
    monkeypatch.setattr(attention, "hub_offline", lambda: True)
    monkeypatch.setattr(attention.importlib.util, "find_spec", lambda name: object())
    with pytest.raises(RecipeError, match="Hub kernel, but the Hub is offline"):
        check_attention("kernels-community/flash-attn2")


def test_no_shipped_recipe_needs_flash_attention(repo_root, no_flash):
    """The paper's SFT recipes default to sdpa, so they load on a machine without flash-attn."""
    checked = 0
    for name in shipped_recipes(repo_root):
        value = load_yaml(repo_root / "recipes" / name).get("attn_implementation")
        if value is not None:
            check_attention(value, f"{name}: attn_implementation")
            checked += 1
    assert checked >= 8


def test_sft_stage_stops_before_any_model_loads(repo_root, no_flash, capsys, monkeypatch):
    import tulu_recipes.stages.loading as loading
    from tulu_recipes.stages import sft, skeleton

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(loading, "load_model", never)
    monkeypatch.setattr(skeleton, "load_model", never)
    argv = [str(repo_root / "recipes/quickstart/sft.yaml"), "--attn_implementation", "flash_attention_2"]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(sft.main, argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: `attn_implementation: flash_attention_2` is not available")
