"""Print the pinned versions of tulu-recipes[dev]'s dependency closure as installed here: `constraints.txt`.

    python .ci/freeze_constraints.py > constraints.txt

`pip freeze` would list every package of the environment (these machines carry unrelated system packages);
this walks the installed metadata from the project's own requirements instead, following extras and markers,
so the file holds exactly what `pip install -e ".[dev]"` pulls in. Run it in the environment CI last passed in.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "tulu-recipes"
ROOT_EXTRAS = ("dev",)
ALWAYS = ("torch",)  # pinned by the README's command too; listed so the file is the whole story
BUILD_TOOLS = {"pip", "setuptools", "wheel"}  # the build backend's own requirement decides these


def closure(project: str, extras: tuple[str, ...]) -> dict[str, str]:
    pinned: dict[str, str] = {}
    todo: list[tuple[str, tuple[str, ...]]] = [(project, extras), *((name, ()) for name in ALWAYS)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, wanted = todo.pop()
        key = (canonicalize_name(name), tuple(sorted(wanted)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement whose marker held but which is not installed: nothing to pin
        if canonicalize_name(name) not in {canonicalize_name(project), *BUILD_TOOLS}:
            # the public version: `torch==2.13.0` also matches the installed `2.13.0+cpu` build, not vice versa
            pinned[dist.metadata["Name"]] = dist.version.split("+", 1)[0]
        for line in dist.requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                if canonicalize_name(req.name) != canonicalize_name(project):  # `all` names the project itself
                    todo.append((req.name, tuple(req.extras)))
    return pinned


def main() -> int:
    pins = closure(PROJECT, ROOT_EXTRAS)
    print('# Resolved versions CI installs with: pip install -e ".[dev]" -c constraints.txt (see README).')
    print("# Refresh: python .ci/freeze_constraints.py > constraints.txt, in an environment where CI passes.")
    for name in sorted(pins, key=str.lower):
        print(f"{name}=={pins[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
