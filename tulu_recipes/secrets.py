"""What counts as a secret, and how it is kept out of every file and log the project writes.

Secrets are: `hub_token`; every value of a recipe's `env:` mapping; any field, mapping key or environment variable
whose name says token, key, secret, password or credential (`HF_TOKEN`, `WANDB_API_KEY`, `extra_body.api_key`; the
tokenizer's `pad_token`/`eos_token` are not); and, in free text, any string equal to the value of such an
environment variable or to a key a generation backend sent.

Two tools, used wherever the project writes: `redact_recipe` (the recipe behind `recipe.yaml` and the model card:
names stay, values become `<redacted>`) and `scrub_text` / `scrub_values` (free text and records: every known
secret value becomes `<redacted>`; `scrub_error` also blanks `Authorization` headers and `Bearer` credentials in
error messages, whatever HTTP client produced them). Written by hand: transformers only masks `*_token` fields of
`TrainingArguments.to_dict`, and nothing masks a recipe, a model card or a generation cache.

A saved recipe runs again: `restore_redacted` reads a redacted `env:` value from the environment at run time (a
missing variable stops the run in one line), and a redacted secret field takes its default. `hub_token` is handed
to huggingface_hub through `HF_TOKEN` (which it reads at each call), so no config object, and no pickle of one
(`training_args.bin`), holds it.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

REDACTED = "<redacted>"
HUB_TOKEN_ENV = "HF_TOKEN"
# Shorter values are not searched for in free text: they would match ordinary words ("true", "1").
MIN_SCRUB_LENGTH = 8
_NAME_LAST = frozenset({"token", "key", "apikey", "secret", "password", "passwd", "credential", "credentials"})
_NAME_ANY = frozenset({"secret", "secrets", "password", "passwd", "credential", "credentials"})
# Tokenizer vocabulary entries that happen to be called tokens.
NOT_SECRET = frozenset(f"{kind}_token" for kind in ("pad", "eos", "bos", "unk", "sep", "cls", "mask"))
_BEARER = re.compile(r"\b(Bearer|bearer|BEARER)\s+[A-Za-z0-9._~+/=-]{8,}")
_AUTH_HEADER = re.compile(
    r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest)\s+)?)"
    r"(?!<redacted>|(?:bearer|basic|token|digest)\s)([^\s\"',;}]+)"
)
_remembered: set[str] = set()


@lru_cache(maxsize=4096)  # every record written scans the environment's names: the answers never change
def is_secret_name(name: Any) -> bool:
    """`HF_TOKEN`, `hub_token`, `WANDB_API_KEY`, `AWS_SECRET_ACCESS_KEY`, `db_password`: yes; `pad_token`,
    `max_new_tokens`, `api_key_env` (the name of a variable, not a key), `HF_TOKEN_PATH`: no."""
    low = str(name).lower()
    if low in NOT_SECRET:
        return False
    parts = [p for p in re.split(r"[^a-z0-9]+", low) if p]
    return bool(parts) and (parts[-1] in _NAME_LAST or any(p in _NAME_ANY for p in parts))


def remember(value: Any) -> None:
    """Treat `value` as a secret in free text from now on (a key a backend read, a hub token)."""
    if isinstance(value, str) and len(value) >= MIN_SCRUB_LENGTH and value != REDACTED:
        _remembered.add(value)


def secret_values() -> list[str]:
    """Every secret value known now, longest first (so a secret containing another is removed whole)."""
    values = set(_remembered)
    values.update(v for k, v in os.environ.items() if is_secret_name(k) and len(v) >= MIN_SCRUB_LENGTH)
    values.discard(REDACTED)
    return sorted(values, key=len, reverse=True)


def scrub_text(text: str, values: list[str] | None = None) -> str:
    """`text` with every known secret value (or every one of `values`) replaced by `<redacted>`."""
    for value in secret_values() if values is None else values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def scrub_error(text: str) -> str:
    """An error message or log line: secret values, `Authorization: ...` headers and `Bearer ...` credentials."""
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", scrub_text(text))
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def scrub_values(value: Any, values: list[str] | None = None) -> Any:
    """A JSON-like record (generation caches and outputs, data reports) with every string, keys too, scrubbed."""
    values = secret_values() if values is None else values
    if not values:
        return value
    if isinstance(value, str):
        return scrub_text(value, values)
    if isinstance(value, dict):
        return {scrub_values(k, values): scrub_values(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_values(v, values) for v in value]
    return value


def _redact(value: Any, values: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_name(k) and _holds_text(v) else _redact(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, values) for v in value]
    if isinstance(value, str):
        return scrub_text(value, values)
    return value


def _holds_text(value: Any) -> bool:
    """A secret-named entry is redacted when it holds text (flags and numbers are not secrets)."""
    if isinstance(value, str):
        return value != ""
    if isinstance(value, (list, dict)):
        return bool(value)
    return False


def redact_recipe(recipe: dict[str, Any]) -> dict[str, Any]:
    """A resolved recipe safe to write: every `env:` value and secret-named entry becomes `<redacted>` (the names
    stay, so the reader sees what was set), and known secret values are cut out of every other string."""
    out = _redact({k: v for k, v in recipe.items() if k != "env"}, secret_values())
    env = recipe.get("env")
    if isinstance(env, dict):
        return {"env": {k: None if v is None else REDACTED for k, v in env.items()}, **out}
    return out


def restore_redacted(recipe: dict[str, Any], where: str) -> None:
    """Make a saved (redacted) recipe runnable again, in place, before anything loads.

    A redacted `env:` value is read from the environment (the variable must be set); a redacted secret field is
    left out, so it takes its default (`hub_token`: huggingface_hub's `HF_TOKEN` or login). A redacted value
    anywhere else cannot be recovered: one-line error naming the key. The values of secret-named `env:` entries are
    remembered, so free text is scrubbed of them even after something else replaces the variable.
    """
    from tulu_recipes.config import RecipeError

    env = recipe.get("env")
    if isinstance(env, dict):
        for name, value in env.items():
            if value == REDACTED:
                if name not in os.environ:
                    raise RecipeError(
                        f"env '{name}' in {where} was redacted when the recipe was saved and {name} is not set: "
                        f"export {name} before running it"
                    )
                env[name] = os.environ[name]
            if is_secret_name(name):
                remember(str(env[name]))
    for key in [k for k, v in recipe.items() if k != "env" and v == REDACTED and is_secret_name(k)]:
        del recipe[key]
    for path, value in _strings(recipe, ""):
        if REDACTED in value:
            raise RecipeError(
                f"key '{path}' in {where} holds a value redacted when the recipe was saved; put the value back"
            )


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{path}[{i}]")]
    return []


def hand_hub_token_to_environment(config: Any) -> None:
    """Move a config's `hub_token` into `HF_TOKEN`, where huggingface_hub finds it for every push.

    The config then holds None, so `training_args.bin` (transformers pickles the whole config into every checkpoint),
    `trainer_state.json` and the hyperparameters sent to W&B or TensorBoard cannot carry it.
    """
    token = getattr(config, "hub_token", None)
    if isinstance(token, str) and token and token != REDACTED:
        os.environ[HUB_TOKEN_ENV] = token
        remember(token)
        config.hub_token = None
