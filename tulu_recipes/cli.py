"""`tulu-recipes`: run a stage from the installed package, and list or copy the shipped recipes.

Usage::

    tulu-recipes sft recipe.yaml [--key value ...]     # also dpo, rlvr, reward-model, evaluate, ...
    tulu-recipes recipes                                # list the shipped recipe YAMLs
    tulu-recipes copy tulu3-8b/sft.yaml [DEST]          # copy one out for editing
    tulu-recipes convert-gguf SRC.gguf OUT_DIR          # a GGUF chat model as an fp32 HF checkpoint
    tulu-recipes verifier-audit LABELLED.jsonl --verifier math   # a verifier against your labels
"""

from __future__ import annotations

import importlib
import posixpath
import re
import sys
from importlib import resources
from pathlib import Path

from tulu_recipes.config import BUNDLED_SCHEME, run_cli
from tulu_recipes.stages import STAGES

USAGE = __doc__


def shipped_recipes() -> list[str]:
    """Relative paths of every YAML recipe shipped in the package (the repository's recipes/ folder)."""
    root = resources.files("tulu_recipes.recipes")
    found: list[str] = []

    def walk(node, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, f"{name}/")
            elif child.name.endswith((".yaml", ".yml")):
                found.append(name)

    walk(root, "")
    return found


def copy_recipe(name: str, dest: str | None = None) -> Path:
    if name not in shipped_recipes():
        known = "\n  ".join(shipped_recipes())
        raise SystemExit(f"error: no shipped recipe {name!r}; known recipes:\n  {known}")
    target = Path(dest) if dest else Path(name.replace("/", "-"))
    if target.is_dir():
        target = target / Path(name).name
    if target.exists():
        raise SystemExit(f"error: {target} exists; not overwriting it")
    text = resources.files("tulu_recipes.recipes").joinpath(name).read_text(encoding="utf-8")
    target.write_text(bundle_relative_paths(text, posixpath.dirname(name)), encoding="utf-8")
    return target


_RELATIVE_VALUE = re.compile(
    r"""(?P<lead>(?::|^\s*-|\[|,)\s*)(?P<quote>["']?)(?P<path>\.{1,2}/[^\s#"',\]]*)(?P=quote)""", re.M
)


def bundle_relative_paths(text: str, folder: str) -> str:
    """Rewrite a shipped recipe's `./x` and `../x` values (relative to its bundled folder) to `tulu-recipes://...`.

    A copy lives elsewhere, so its relative paths would no longer reach the bundled model and data; the scheme
    resolves them inside the installed package wherever the copy is run. Comments and layout are kept.
    """

    def bundled(match: re.Match) -> str:
        path = posixpath.normpath(posixpath.join(folder, match["path"]))
        return f"{match['lead']}{match['quote']}{BUNDLED_SCHEME}{path}{match['quote']}"

    return _RELATIVE_VALUE.sub(bundled, text)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        print("stages: " + ", ".join(STAGES))
        return 0
    command, rest = args[0], args[1:]
    if command == "recipes":
        print("\n".join(shipped_recipes()))
        return 0
    if command == "copy":
        if not rest:
            raise SystemExit("error: usage: tulu-recipes copy RECIPE [DEST]")
        print(copy_recipe(rest[0], rest[1] if len(rest) > 1 else None))
        return 0
    if command == "convert-gguf":
        from tulu_recipes.convert import main as convert_main

        return convert_main(rest)
    if command == "verifier-audit":
        from tulu_recipes.verifier_audit import main as audit_main

        return run_cli(audit_main, rest)
    if command not in STAGES:
        raise SystemExit(
            f"error: unknown command {command!r}; stages: {', '.join(STAGES)}; "
            "or recipes, copy, convert-gguf, verifier-audit"
        )
    module = importlib.import_module(STAGES[command])
    run_cli(module.main, rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
