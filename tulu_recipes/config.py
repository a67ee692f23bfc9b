"""The recipe system: a YAML file of TRL config fields, strictly checked, with command-line overrides.

`parse_recipe([SFTConfigLike, ModelConfig, ...], argv)` reads `recipe.yaml [--key value ...]` (or TRL's
`--config recipe.yaml`). It builds on TRL's `TrlParser` (YAML values become argparse defaults, so the command
line wins) and adds what TRL's own scripts skip: every key of the YAML and of the command line must be a field
of one of the dataclasses, and YAML values must have the field's type. A mistake stops the run before any
model or data is loaded, naming the file, the key and the closest valid key. Keys that transformers 5 or
TRL removed get a message saying what replaces them.

Conventions: a top-level `env:` mapping is exported to the environment (as TRL does; saved recipes show its values
as `<redacted>`, read back from the environment at run time); a string value in the
YAML that starts with `./` or `../` is a path relative to the recipe file, so shipped recipes work from any
working directory; one that starts with `tulu-recipes://` names a file bundled with the package's recipes
(`tulu-recipes copy` writes bundled paths that way, so a copied recipe still finds them).
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import json
import os
import re
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from trl import TrlParser

from tulu_recipes.ranges import range_errors
from tulu_recipes.recipe_help import handle_help
from tulu_recipes.secrets import hand_hub_token_to_environment, redact_recipe, restore_redacted

REMOVED_KEYS: dict[str, str] = {
    "warmup_ratio": "transformers 5 removed it; use `warmup_steps: {value}` (a float below 1 is a ratio of the "
    "total steps)",
    "torch_dtype": "renamed to `dtype` in TRL's ModelConfig; use `dtype: {value}`",
    "evaluation_strategy": "renamed to `eval_strategy`",
    "max_prompt_length": "TRL's DPOConfig no longer has it; prompts are truncated with `max_length` and "
    "`truncation_mode`",
    "dataset_text_field_name": "use `dataset_text_field`",
    "use_liger": "use `use_liger_kernel`",
    "config": "a recipe cannot nest another recipe; pass one YAML file",
}

# Typed `list[str]` but documented by TRL as `str | list[str]` (a one-item list becomes the string in
# ModelConfig.__post_init__), so a YAML string such as `all-linear` is accepted as that one item.
STRING_OR_LIST_KEYS = ("lora_target_modules", "lora_target_parameters")


INIT_VALUES = "_tulu_init_values"  # attribute parse_recipe sets on each config: the values it was built from
RECIPE_ENV = "_tulu_recipe_env"  # and on the first config: the recipe's `env:` mapping
RESOLVED_PATHS = "_tulu_resolved_paths"  # and on the first config: {absolute path: how the recipe wrote it}
RECIPE_HEADER = "# Fully resolved recipe written by tulu-recipes; run it again as is."


class RecipeError(ValueError):
    """A recipe that cannot run: unknown key, wrong type, bad value. The message names file and key."""


class _RecipeLoader(yaml.SafeLoader):
    """YAML 1.1 reads `5e-6` as a string; recipes are full of such learning rates, so read them as floats."""


_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def load_yaml(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_RecipeLoader)
    except FileNotFoundError:
        raise RecipeError(f"recipe file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise RecipeError(f"{path} is not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path} must be a YAML mapping of config fields, got {type(data).__name__}")
    return data


BUNDLED_SCHEME = "tulu-recipes://"


def bundled_path(value: str) -> str:
    """`tulu-recipes://quickstart/tiny-base` -> that file or folder inside the installed package's recipes/."""
    from importlib import resources

    rest = value[len(BUNDLED_SCHEME) :].strip("/")
    with resources.as_file(resources.files("tulu_recipes.recipes")) as root:
        path = (Path(root) / rest).resolve()
    if not path.exists():
        raise RecipeError(f"{value}: no such file or folder among the bundled recipes ({path})")
    return str(path)


def _resolve_relative(value: Any, base: Path, seen: dict[str, str]) -> Any:
    """`./x`, `../x` (relative to the recipe) and `tulu-recipes://x` as absolute paths; `seen` maps each
    resolved path back to the recipe's spelling, so saved recipes and cards show no machine paths."""
    if isinstance(value, str) and (value.startswith("./") or value.startswith("../")):
        resolved = str((base / value).resolve())
        seen[resolved] = value
        return resolved
    if isinstance(value, str) and value.startswith(BUNDLED_SCHEME):
        resolved = bundled_path(value)
        seen[resolved] = value
        return resolved
    if isinstance(value, list):
        return [_resolve_relative(v, base, seen) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_relative(v, base, seen) for k, v in value.items()}
    return value


def _unresolve(value: Any, seen: dict[str, str], folder: Path | None) -> Any:
    """The inverse of `_resolve_relative` for a recipe saved in `folder`: a bundled file by its scheme, a path the
    recipe wrote relatively as `./`/`../` relative to `folder` (or as written, without a folder)."""
    if isinstance(value, str) and value in seen:
        original = seen[value]
        if original.startswith(BUNDLED_SCHEME) or folder is None:
            return original
        relative = os.path.relpath(value, Path(folder).resolve())
        return "./" if relative == "." else relative if relative.startswith("..") else f"./{relative}"
    if isinstance(value, list):
        return [_unresolve(v, seen, folder) for v in value]
    if isinstance(value, dict):
        return {k: _unresolve(v, seen, folder) for k, v in value.items()}
    return value


def _type_hints(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        try:
            hints.update(typing.get_type_hints(klass))
        except Exception:  # a class whose annotations cannot be resolved: skip type checks for its fields
            continue
    return hints


def _matches(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits a dataclass field type; unknown or exotic types are accepted."""
    if hint is Any or hint is None:
        return True
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (list, Sequence, tuple):
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return isinstance(value, list) and all(_matches(v, inner) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in {m.value for m in hint} or value in hint.__members__
    return True


def _describe(hint: Any) -> str:
    text = getattr(hint, "__name__", None) if typing.get_origin(hint) is None else None
    return text or str(hint).replace("typing.", "")


@dataclasses.dataclass
class _Field:
    owner: type
    name: str
    hint: Any


def _fields(dataclass_types: Sequence[type]) -> dict[str, _Field]:
    table: dict[str, _Field] = {}
    for cls in dataclass_types:
        hints = _type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.init:
                table[f.name] = _Field(cls, f.name, hints.get(f.name, Any))
    return table


def _unknown_key_message(key: str, where: str, known: dict[str, _Field], value: Any = None) -> str:
    if key in REMOVED_KEYS:
        hint = REMOVED_KEYS[key].format(value=value)
        return f"key '{key}' in {where} is no longer supported: {hint}"
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    suggestion = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key '{key}' in {where}{suggestion}"


def check_recipe(recipe: dict[str, Any], dataclass_types: Sequence[type], where: str) -> None:
    """Raise RecipeError for the first unknown key or mistyped value of a recipe mapping."""
    known = _fields(dataclass_types)
    for key, value in recipe.items():
        if key not in known:
            raise RecipeError(_unknown_key_message(key, where, known, value))
        field = known[key]
        if not _matches(value, field.hint):
            raise RecipeError(
                f"key '{key}' in {where} expects {_describe(field.hint)}, got {value!r} ({type(value).__name__})"
            )


def _split_argv(argv: list[str]) -> tuple[str | None, list[str]]:
    args = list(argv)
    if args and not args[0].startswith("-"):
        return args[0], args[1:]
    if "--config" in args:
        i = args.index("--config")
        if i + 1 >= len(args):
            raise RecipeError("--config needs a path to a YAML recipe")
        path = args[i + 1]
        return path, args[:i] + args[i + 2 :]
    return None, args


def parse_recipe(dataclass_types: Sequence[type], argv: Sequence[str] | None = None) -> tuple[Any, ...]:
    """Parse `recipe.yaml [--key value ...]` into one instance per dataclass type.

    Raises RecipeError (with file, key and a suggestion) before anything is loaded if the recipe or the
    command line names a key no dataclass has, or a YAML value has the wrong type.
    """
    recipe_path, cli = _split_argv(list(sys.argv[1:] if argv is None else argv))
    parser = TrlParser(list(dataclass_types))
    env: dict[str, Any] = {}
    recipe: dict[str, Any] = {}
    resolved_paths: dict[str, str] = {}
    known = _fields(dataclass_types)
    if recipe_path is not None:
        recipe = load_yaml(recipe_path)
        restore_redacted(recipe, recipe_path)  # a saved recipe: its redacted `env:` values come from the environment
        env = recipe.pop("env", None) or {}
        if not isinstance(env, dict):
            raise RecipeError(f"'env' in {recipe_path} must be a mapping of environment variables")
        if isinstance(recipe.get("resume_from_checkpoint"), bool):
            # `true` = the latest complete checkpoint in output_dir; TrainingArguments types the field as a string.
            recipe["resume_from_checkpoint"] = "true" if recipe["resume_from_checkpoint"] else None
        for key in STRING_OR_LIST_KEYS:  # TRL documents `lora_target_modules: all-linear`; ModelConfig unwraps [x]
            if isinstance(recipe.get(key), str):
                recipe[key] = [recipe[key]]
        check_recipe(recipe, dataclass_types, recipe_path)
        for name, value in env.items():
            os.environ[str(name)] = str(value)
        recipe = _resolve_relative(recipe, Path(recipe_path).resolve().parent, resolved_paths)
        parser.set_defaults_with_config(**recipe)
    handle_help(parser, dataclass_types, cli)
    given = set(recipe) if recipe_path is not None else set()
    for token in cli:
        if token.startswith("--"):
            key = token[2:].split("=", 1)[0].replace("-", "_")
            if key not in known:
                raise RecipeError(_unknown_key_message(key, "the command line", known))
            given.add(key)
    _checkpointing_default(parser, dataclass_types, given)
    parser.error = _one_line_error  # argparse would print its ~150-line usage before the message
    try:
        parsed = parser.parse_args_into_dataclasses(args=cli, return_remaining_strings=True)
    except RecipeError:
        raise
    except (ValueError, TypeError) as err:  # raised by a config's __post_init__
        where = recipe_path or "the command line"
        raise RecipeError(f"invalid recipe {where}: {err}") from None
    *instances, remaining = parsed
    if remaining:
        raise RecipeError(f"unexpected arguments on the command line: {' '.join(remaining)}")
    for key, message in range_errors(instances):
        from_cli = any(t[2:].split("=", 1)[0].replace("-", "_") == key for t in cli if t.startswith("--"))
        where = "the command line" if from_cli or not recipe_path else recipe_path
        raise RecipeError(f"invalid recipe {where}: {message}")
    from tulu_recipes.precision import apply_torch_threads, check_cpu_bf16

    check_cpu_bf16(instances)  # bf16: true on a CPU without bf16 instructions: fp32 with a warning, or an error
    apply_torch_threads(instances)
    # What the recipe and the command line set, as each config received it before its __post_init__ derived
    # other values: the saved recipe writes these plus class defaults, so TRL accepts it back (`resolved_recipe`).
    namespace = vars(parser.parse_known_args(args=cli)[0])
    user_set = set(recipe) | {t[2:].split("=", 1)[0].replace("-", "_") for t in cli if t.startswith("--")}
    for instance in instances:
        init: dict[str, Any] = {}
        for f in dataclasses.fields(instance):
            if not f.init or f.name not in namespace:
                continue
            if f.name in user_set:
                init[f.name] = namespace[f.name]
            elif _class_default(f) == namespace[f.name]:  # a default the parser hands back as it is
                init[f.name] = namespace[f.name]
        # Redacted here already: transformers pickles the whole config, these attributes too, into training_args.bin.
        object.__setattr__(instance, INIT_VALUES, redact_recipe(init))
        hand_hub_token_to_environment(instance)
    if recipe_path is not None and env:
        object.__setattr__(instances[0], RECIPE_ENV, redact_recipe({"env": env})["env"])
    if resolved_paths:
        object.__setattr__(instances[0], RESOLVED_PATHS, resolved_paths)
    return tuple(instances)


def _checkpointing_default(parser: TrlParser, dataclass_types: Sequence[type], given: set[str]) -> None:
    """TRL defaults `gradient_checkpointing` (transformers 5's deprecated alias of `activation_checkpointing`) to
    True, so a recipe setting neither name got a FutureWarning; give that default to the new name instead."""
    if given & {"gradient_checkpointing", "activation_checkpointing"}:
        return  # a recipe's own choice, in either name, is left to transformers
    for cls in dataclass_types:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if "activation_checkpointing" in fields and "gradient_checkpointing" in fields:
            default = fields["gradient_checkpointing"].default
            if isinstance(default, bool):
                parser.set_defaults(activation_checkpointing=default)


def _one_line_error(message: str) -> typing.NoReturn:
    """argparse's error hook, as a RecipeError: `argument --learning_rate: invalid float value: 'abc'`."""
    raise RecipeError(f"the command line: {message}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def resolved_recipe(*configs: Any, folder: str | Path | None = None) -> dict[str, Any]:
    """Every init field of every config, as one flat mapping that runs again unchanged.

    A config from `parse_recipe` gives what the recipe and the command line set, and the class defaults of the
    other fields (those the parser hands back unchanged; the rest are left out and take their default again).
    Never the values its __post_init__ derived, which TRL may refuse back together (GRPOConfig fills
    `generation_batch_size` from `steps_per_generation`, then rejects both set). A config built directly gives
    its field values. An `env:` mapping of the recipe comes first. Secrets are redacted (`tulu_recipes.secrets`).
    Paths the recipe wrote as `./x` or `tulu-recipes://x` are written that way again, relative to `folder` (where
    the saved recipe lives), so no machine path of the run shows; paths written otherwise stay as given.
    """
    out: dict[str, Any] = {}
    env = next((getattr(c, RECIPE_ENV) for c in configs if hasattr(c, RECIPE_ENV)), None)
    if env:
        out["env"] = _jsonable(env)
    for config in configs:
        init = getattr(config, INIT_VALUES, None)
        for f in dataclasses.fields(config):
            if f.init and not f.name.startswith("_"):
                if init is None:
                    out[f.name] = _jsonable(getattr(config, f.name))
                elif f.name in init:
                    out[f.name] = _jsonable(init[f.name])
    seen = next((getattr(c, RESOLVED_PATHS) for c in configs if hasattr(c, RESOLVED_PATHS)), {})
    return redact_recipe(_unresolve(out, seen, Path(folder) if folder is not None else None))


def _class_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def recipe_yaml(*configs: Any, folder: str | Path | None = None) -> str:
    """The resolved recipe as YAML text: the body of recipe.yaml and of the model card's recipe section."""
    return yaml.safe_dump(resolved_recipe(*configs, folder=folder), sort_keys=False, allow_unicode=True)


def save_recipe(output_dir: str | Path, *configs: Any, filename: str = "recipe.yaml") -> Path:
    """Write the fully resolved recipe next to the outputs; it can be run again as is."""
    path = Path(output_dir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{RECIPE_HEADER}\n{recipe_yaml(*configs, folder=path.parent)}", encoding="utf-8")
    return path


def run_cli(main: typing.Callable[[list[str] | None], Any], argv: list[str] | None = None) -> Any:
    """Run a stage's main, turning a recipe or data mistake into a one-line message and exit code 2."""
    from tulu_recipes.data.errors import DataError

    try:
        return main(argv)
    except (RecipeError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def dumps(value: Any) -> str:
    return json.dumps(_jsonable(value), indent=2, ensure_ascii=False)
