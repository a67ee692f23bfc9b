"""Soup stage: `tulu-recipes soup --models A B [C ...] [--weights 1 1 2] --output_dir SOUP` (or a YAML recipe).

Averages the weights of checkpoints of one architecture (uniformly, or with the given weights normalized to
sum 1) and saves a loadable model with the first model's config and tokenizer, plus `soup.json` naming the
ingredients and their weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from tulu_recipes.config import RecipeError, parse_recipe, run_cli, save_recipe
from tulu_recipes.model_card import write_soup_card
from tulu_recipes.output_policy import refuse_finished_outputs, refuse_writing_into_inputs
from tulu_recipes.soup import SoupAccumulator, SoupError, normalized_weights
from tulu_recipes.stages.outputs import finished_model_file


@dataclass
class SoupArguments:
    """Which checkpoints to average, how, and where to save the soup."""

    models: list[str] = field(default_factory=list, metadata={"help": "Checkpoints (same architecture) to average."})
    weights: list[float] | None = field(
        default=None, metadata={"help": "One weight per model, normalized to sum 1 (default: uniform)."}
    )
    output_dir: str = field(default="outputs/soup", metadata={"help": "Where the averaged model is saved."})
    dtype: str = field(default="auto", metadata={"help": "Dtype to load and save in (auto: the checkpoint's)."})
    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Replace a finished model or soup in `output_dir` (never one of `models`)."}
    )


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _load(path: str, dtype: str) -> PreTrainedModel:
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype if dtype == "auto" else getattr(torch, dtype))


def make_soup(models: list[str], weights: list[float] | None = None, dtype: str = "auto") -> PreTrainedModel:
    """The first model with its weights replaced by the (weighted) average of all models' weights."""
    w = normalized_weights(len(models), weights)
    base = _load(models[0], dtype)
    acc = SoupAccumulator()
    acc.add(base.state_dict(), w[0], models[0])
    for path, weight in zip(models[1:], w[1:], strict=True):
        other = _load(path, dtype)
        if type(other) is not type(base):
            raise SoupError(f"cannot average {type(base).__name__} ({models[0]}) with {type(other).__name__} ({path})")
        acc.add(other.state_dict(), weight, path)
        del other
    base.load_state_dict(acc.result())
    return base


def main(argv: list[str] | None = None) -> PreTrainedModel:
    (args,) = parse_recipe([SoupArguments], argv)
    if not args.models:
        raise RecipeError("the recipe names no model: set `models`")
    refuse_writing_into_inputs(args.output_dir, args.models, "models")
    previous = finished_model_file(args.output_dir) or _existing(Path(args.output_dir) / "soup.json")
    refuse_finished_outputs(args.output_dir, previous, args.overwrite_output_dir, "a finished model")
    try:
        weights = normalized_weights(len(args.models), args.weights)
        soup = make_soup(args.models, args.weights, args.dtype)
    except SoupError as err:
        raise RecipeError(str(err)) from None
    out = Path(args.output_dir)
    soup.save_pretrained(out)
    AutoTokenizer.from_pretrained(args.models[0]).save_pretrained(out)
    save_recipe(out, args)
    (out / "soup.json").write_text(
        json.dumps({"models": args.models, "weights": weights}, indent=2) + "\n", encoding="utf-8"
    )
    write_soup_card(out, args, weights)
    print(f"Soup of {len(args.models)} models saved to {out} (weights {', '.join(f'{x:.3f}' for x in weights)})")
    return soup


if __name__ == "__main__":
    run_cli(main)
