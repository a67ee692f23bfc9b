"""The order every training stage follows, written once: a stage module states only what differs.

    configs = check_recipe(RECIPE_TYPES, argv)          # parse; refuse a finished run; model paths, resume, ...
    ...stage-specific checks (verifiers, templates)...  # still before anything loads
    run = prepare(configs, "sft", training=True)        # process group, seed, template, tokenizer, data
    trainer = TuluSFTTrainer(model=run.load_model(), **run.trainer_kwargs(["messages"]))
    return run.train_and_save(trainer, "sft")           # train, then model, template, recipe and card

The order is a rule, not a style: a mistake must stop the run before anything is loaded or written, and
`setup_distributed` must come before any model (ZeRO-3 builds models under `zero.Init`); the seed comes before
the data mixer and any new head.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase, set_seed
from trl import get_peft_config

from tulu_recipes.chat_templates import ChatTemplate
from tulu_recipes.config import parse_recipe
from tulu_recipes.data import MixtureResult
from tulu_recipes.distributed import setup_distributed
from tulu_recipes.stages.loading import load_model, load_tokenizer, template_for
from tulu_recipes.stages.mixture import load_stage_data, mixture_seed, trainer_datasets
from tulu_recipes.stages.outputs import refuse_finished_run, train_and_save
from tulu_recipes.stages.preflight import check_stage
from tulu_recipes.trainers.fault_tolerance import fault_tolerance_callbacks


def _role(configs: Sequence[Any], field: str) -> Any:
    """The first parsed config that has `field`: the script arguments, training arguments or model config."""
    return next(c for c in configs if hasattr(c, field))


def check_recipe(recipe_types: Sequence[type], argv: list[str] | None, *model_keys: str) -> tuple[Any, ...]:
    """Parse the recipe and run every check that needs no model: finished output, model paths (the model and
    the training config's `model_keys`, such as `value_model_path`), resume folder, attention, reporting."""
    configs = parse_recipe(recipe_types, argv)
    script_args, training_args = _role(configs, "dataset_mixer"), _role(configs, "output_dir")
    model_args = _role(configs, "model_name_or_path")
    refuse_finished_run(script_args, training_args)
    check_stage(model_args, training_args, *((key, getattr(training_args, key, None)) for key in model_keys))
    return configs


@dataclass
class StageRun:
    """A checked recipe with its process group, seed, template, tokenizer and mixed data in place."""

    configs: tuple[Any, ...]
    template: ChatTemplate
    tokenizer: PreTrainedTokenizerBase
    data: MixtureResult

    @property
    def script_args(self) -> Any:
        return _role(self.configs, "dataset_mixer")

    @property
    def training_args(self) -> Any:
        return _role(self.configs, "output_dir")

    @property
    def model_args(self) -> Any:
        return _role(self.configs, "model_name_or_path")

    def load_model(self, scalar_head: bool = False) -> PreTrainedModel:
        """The model to train (fp32 master weights, `<pad>` row added if the tokenizer gained one); with
        `scalar_head`, the backbone with a 1-label classifier head."""
        return load_model(self.model_args, self.tokenizer, self.training_args, scalar_head=scalar_head)

    def trainer_kwargs(self, columns: list[str]) -> dict[str, Any]:
        """What every stage's trainer takes: arguments, datasets (checked for `columns`), tokenizer, LoRA, the
        non-finite-step guard."""
        return {
            "args": self.training_args,
            **trainer_datasets(self.data, columns),
            "processing_class": self.tokenizer,
            "peft_config": get_peft_config(self.model_args),
            "callbacks": fault_tolerance_callbacks(self.script_args.max_nonfinite_steps),
        }

    def train_and_save(self, trainer: Any, stage: str) -> Any:
        return train_and_save(trainer, self.tokenizer, self.template, *self.configs, stage=stage, data=self.data)


def prepare(
    configs: tuple[Any, ...],
    data_kind: str,
    *,
    training_template: bool = False,
    check_template: Callable[[ChatTemplate], None] | None = None,
) -> StageRun:
    """Process group, seed, template (checked by `check_template`), tokenizer and the stage's data mixture."""
    script_args, training_args = _role(configs, "dataset_mixer"), _role(configs, "output_dir")
    model_args = _role(configs, "model_name_or_path")
    template = template_for(script_args, model_args)
    if check_template is not None:
        check_template(template)  # a template mistake is a recipe mistake: before the process group starts
    setup_distributed(training_args)  # before any model: ZeRO-3 loads it under zero.Init
    set_seed(training_args.seed)  # model init (new heads) and data mixing are seeded, not only training
    tokenizer = load_tokenizer(model_args, template, training=training_template)
    data = load_stage_data(
        script_args, mixture_seed(training_args), data_kind, None, report_dir=training_args.output_dir
    )
    return StageRun(configs, template, tokenizer, data)
