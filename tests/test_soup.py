"""Model soups on the tiny model: identity, exact two-model mean, weights, and refusals that name the tensor."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from tulu_recipes.config import RecipeError
from tulu_recipes.soup import SoupError, average_state_dicts, normalized_weights
from tulu_recipes.stages.soup import main as soup_main


def _perturbed(tiny_base, path, seed: int):
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tiny_base).save_pretrained(path)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def two_models(tiny_base, tmp_path_factory):
    root = tmp_path_factory.mktemp("ingredients")
    a, b = root / "a", root / "b"
    return (a, _perturbed(tiny_base, a, 1)), (b, _perturbed(tiny_base, b, 2))


def _saved_state(path):
    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_soup_of_identical_models_is_the_model(tiny_base, tmp_path):
    soup_main(["--models", str(tiny_base), str(tiny_base), str(tiny_base), "--output_dir", str(tmp_path / "s")])
    original, soup = _saved_state(tiny_base), _saved_state(tmp_path / "s")
    assert soup.keys() == original.keys()
    assert all(torch.equal(soup[k], original[k]) for k in original)
    tok = AutoTokenizer.from_pretrained(tmp_path / "s")
    assert tok.chat_template == AutoTokenizer.from_pretrained(tiny_base).chat_template


def test_soup_of_two_is_their_exact_mean(two_models, tmp_path):
    (a_path, a), (b_path, b) = two_models
    soup_main(["--models", str(a_path), str(b_path), "--output_dir", str(tmp_path / "s")])
    soup = _saved_state(tmp_path / "s")
    assert not torch.equal(a["model.layers.0.mlp.up_proj.weight"], b["model.layers.0.mlp.up_proj.weight"])
    for key in a:
        assert torch.equal(soup[key], ((a[key].double() + b[key].double()) / 2).to(a[key].dtype)), key
    assert json.loads((tmp_path / "s" / "soup.json").read_text())["weights"] == [0.5, 0.5]


def test_weighted_soup(two_models, tmp_path):
    (a_path, a), (b_path, b) = two_models
    soup_main(["--models", str(a_path), str(b_path), "--weights", "1", "3", "--output_dir", str(tmp_path / "s")])
    soup = _saved_state(tmp_path / "s")
    for key in a:
        expected = (0.25 * a[key].double() + 0.75 * b[key].double()).to(a[key].dtype)
        assert torch.equal(soup[key], expected), key
    assert json.loads((tmp_path / "s" / "soup.json").read_text())["weights"] == [0.25, 0.75]
    assert normalized_weights(3) == [1 / 3] * 3
    with pytest.raises(SoupError, match="2 weights for 3 models"):
        normalized_weights(3, [1, 2])
    with pytest.raises(SoupError, match="non-negative"):
        normalized_weights(2, [1, -1])


def test_mismatched_shapes_are_refused_naming_tensor_and_shapes(tiny_base, tmp_path):
    config = AutoConfig.from_pretrained(tiny_base)
    config.intermediate_size = 256
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / "narrow")
    with pytest.raises(
        RecipeError,
        match=r"tensor 'model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight': "
        r"shape \((384, 128|128, 384)\) in .*tiny-base but \((256, 128|128, 256)\)",
    ):
        soup_main(["--models", str(tiny_base), str(tmp_path / "narrow"), "--output_dir", str(tmp_path / "s")])
    assert not (tmp_path / "s").exists()


def test_different_tensor_names_are_refused():
    a = {"w": torch.zeros(2), "v": torch.zeros(2)}
    with pytest.raises(SoupError, match=r"model 1 lacks \['v'\]"):
        average_state_dicts([a, {"w": torch.ones(2)}])
    ints = average_state_dicts([{"step": torch.tensor([3])}, {"step": torch.tensor([5])}])
    assert ints["step"].tolist() == [3]  # non-float buffers come from the first model


def _refused(capsys, argv: list[str]) -> str:
    from tulu_recipes.config import run_cli

    capsys.readouterr()  # only this call's output
    with pytest.raises(SystemExit) as exit_info:
        run_cli(soup_main, argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err


def test_soup_never_overwrites_an_ingredient_or_a_finished_soup_unless_told(two_models, tmp_path, capsys):
    from _shared import tree

    (a_path, _), (b_path, _) = two_models
    before = tree(a_path)
    err = _refused(capsys, ["--models", str(a_path), str(b_path), "--output_dir", str(a_path), "--overwrite_output_dir",
                            "true"])  # fmt: skip
    assert f"output_dir {a_path} is one of the models" in err
    assert tree(a_path) == before

    out = tmp_path / "soup"
    soup_main(["--models", str(a_path), str(b_path), "--output_dir", str(out)])
    card = (out / "README.md").read_text()
    assert "A model soup" in card and f"| `{a_path}` | 0.5000 |" in card and "tulu-recipes soup recipe.yaml" in card
    finished = tree(out)
    err = _refused(capsys, ["--models", str(b_path), str(a_path), "--output_dir", str(out)])
    assert "holds a finished model (model.safetensors)" in err and "overwrite_output_dir: true" in err
    assert tree(out) == finished

    soup_main(["--models", str(b_path), str(a_path), "--weights", "3", "1", "--output_dir", str(out),
               "--overwrite_output_dir", "true"])  # fmt: skip
    card = (out / "README.md").read_text()  # the new soup's card, not the old one beside the new weights
    assert f"| `{b_path}` | 0.7500 |" in card and f"| `{a_path}` | 0.2500 |" in card
