"""What the package takes from TRL and transformers beyond their public API, and how to fingerprint it.

`overridden_methods()` walks every class of `tulu_recipes` that subclasses a TRL, transformers or accelerate class
and lists each method one of our classes (mixins included) defines over a method of that library; `imported_names()`
lists the names imported from TRL's internal modules. `fingerprint()` reduces a callable to what a caller or an
override depends on: parameter names, kinds and defaults (annotations are left out: they change spelling across
Python versions without changing the contract).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import tulu_recipes

LIBRARIES = ("trl", "transformers", "accelerate")
REPO = Path(__file__).resolve().parents[1]


def _our_modules() -> list:
    modules = []
    for info in pkgutil.walk_packages(tulu_recipes.__path__, "tulu_recipes."):
        if info.name.startswith("tulu_recipes.recipes"):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _is_ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in ("tulu_recipes", "rewards")


def _is_library(cls: type) -> bool:
    return cls.__module__.split(".")[0] in LIBRARIES


def overridden_methods() -> dict[str, object]:
    """`library.module.Class.method` -> the library's function, for every method our classes override."""
    found: dict[str, object] = {}
    for module in _our_modules():
        for cls in vars(module).values():
            if not inspect.isclass(cls) or not _is_ours(cls) or not any(_is_library(b) for b in cls.__mro__):
                continue
            mro = cls.__mro__
            for i, ours in enumerate(mro):
                if not _is_ours(ours):
                    continue
                for name, value in vars(ours).items():
                    if name.startswith("__") or not callable(value):
                        continue
                    base = next((b for b in mro[i + 1 :] if _is_library(b) and name in vars(b)), None)
                    if base is not None and callable(vars(base)[name]):
                        found[f"{base.__module__}.{base.__qualname__}.{name}"] = vars(base)[name]
    return found


def imported_names() -> dict[str, object]:
    """`trl.module.name` -> object, for every name our code imports from a TRL module other than `trl` itself."""
    found: dict[str, object] = {}
    for path in sorted((REPO / "tulu_recipes").rglob("*.py")) + sorted((REPO / "rewards").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("trl."):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    found[f"{node.module}.{alias.name}"] = getattr(module, alias.name)
    return found


def fingerprint(obj: object) -> str:
    """Parameter names, kinds and defaults of a callable (a class: of its `__init__`)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    target = inspect.unwrap(target)
    parts = []
    for p in inspect.signature(target).parameters.values():
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.kind is p.KEYWORD_ONLY:
            text = "kw:" + text
        if p.default is not p.empty:
            text += "=" + repr(p.default)
        parts.append(text)
    return "(" + ", ".join(parts) + ")"
