"""`--help` for recipe stages: a short screen of the fields a recipe usually sets, `--help-all` for all of them.

A stage parses several config dataclasses (ours, TRL's, transformers' `TrainingArguments`), about 300 fields in
all; argparse's full help runs to ~900 lines. `--help` lists the fields tulu-recipes declares (its own and the
TRL fields it gives Tülu defaults) plus the TRL/transformers fields most recipes set; `--help-all` prints
argparse's full help. Help strings are escaped first: argparse %-formats them, and a literal `%` or a Jinja
`{% generation %}` in TRL's or our texts crashes it (`must be real number, not dict`).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
import textwrap
from collections.abc import Sequence
from typing import Any

COMMON_FIELDS = (
    "model_name_or_path",
    "dtype",
    "output_dir",
    "overwrite_output_dir",
    "seed",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "bf16",
    "use_cpu",
    "activation_checkpointing",
    "logging_steps",
    "save_strategy",
    "save_steps",
    "report_to",
    "resume_from_checkpoint",
    "use_peft",
    "beta",
    "loss_type",
    "num_generations",
    "max_completion_length",
)
HELP_FLAGS = ("-h", "--help")
HELP_ALL_FLAG = "--help-all"
_FORMAT_TOKEN = re.compile(r"%%|%\([A-Za-z_]+\)[a-z]|%")


def escape_help(text: str) -> str:
    """Make a help string safe for argparse's `%` formatting (a valid `%%` or `%(default)s` is kept)."""
    return _FORMAT_TOKEN.sub(lambda m: m.group(0) if len(m.group(0)) > 1 else "%%", text)


def escape_parser_help(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = escape_help(action.help)


def _declared_by_us(cls: type, name: str) -> bool:
    """Whether a tulu-recipes class in `cls`'s MRO declares the field (its own, or a TRL field with our default)."""
    return any(
        k.__module__.startswith(("tulu_recipes.", "rewards.")) and name in inspect.get_annotations(k)
        for k in cls.__mro__
    )


def _first_sentence(text: str, width: int = 96) -> str:
    text = " ".join(str(text or "").split())
    cut = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return cut if len(cut) <= width else cut[: width - 3].rstrip() + "..."


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _fold_families(lines: dict[str, str]) -> list[str]:
    """One line per field, except that a run of 3 or more consecutive fields sharing their first word (the value
    pretraining, active sampling or rho-correction settings) shows its first field and names the others on one
    line."""
    names = list(lines)
    out: list[str] = []
    start = 0
    while start < len(names):
        word = names[start].split("_")[0]
        end = start
        while end < len(names) and names[end].split("_")[0] == word:
            end += 1
        out.append(lines[names[start]])
        if end - start >= 3:
            out.append(f"  also {', '.join('--' + n for n in names[start + 1 : end])} ({HELP_ALL_FLAG} says more)")
        else:
            out += [lines[n] for n in names[start + 1 : end]]
        start = end
    return out


def short_help(dataclass_types: Sequence[type], prog: str) -> str:
    """The short help screen: our fields, the most used TRL/transformers fields, and how to see the rest."""
    ours: dict[str, str] = {}
    common: dict[str, str] = {}
    total = 0
    for cls in dataclass_types:
        for f in dataclasses.fields(cls):
            if not f.init or f.name.startswith("_"):
                continue
            total += 1
            line = f"  --{f.name} (default: {_default(f)!r}): {_first_sentence(f.metadata.get('help', ''))}"
            line = line if len(line) <= 140 else line[:137] + "..."
            if _declared_by_us(cls, f.name):
                ours.setdefault(f.name, line)
            elif f.name in COMMON_FIELDS:
                common.setdefault(f.name, line)
    common = {k: common[k] for k in COMMON_FIELDS if k in common and k not in ours}
    ours_lines = _fold_families(ours)
    head = textwrap.dedent(f"""\
        usage: {prog} recipe.yaml [--key value ...]
        A recipe is a YAML file of the fields below; `--key value` on the command line overrides one.""")
    rest = total - len(ours) - len(common)
    return "\n".join(
        [
            head,
            "",
            "tulu-recipes fields:",
            *ours_lines,
            "",
            "most used TRL / transformers fields:",
            *common.values(),
            "",
            f"{rest} more TRL / transformers fields: {HELP_ALL_FLAG} lists every field.",
        ]
    )


def handle_help(parser: argparse.ArgumentParser, dataclass_types: Sequence[type], cli: Sequence[str]) -> None:
    """Print the short (`-h`/`--help`) or full (`--help-all`) help and exit 0 when the command line asks."""
    import sys

    prog = _prog()
    if HELP_ALL_FLAG in cli:
        escape_parser_help(parser)
        parser.prog = prog
        parser.print_help()
        raise SystemExit(0)
    if any(flag in cli for flag in HELP_FLAGS):
        print(short_help(dataclass_types, prog), file=sys.stdout)
        raise SystemExit(0)


def _prog() -> str:
    """How the user ran the stage: `tulu-recipes dpo`, `sft.py`, `python -m tulu_recipes.stages.sft`."""
    import sys

    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "tulu-recipes"
    if name in ("tulu-recipes", "cli.py") and len(sys.argv) > 1:
        return f"tulu-recipes {sys.argv[1]}"
    return name
