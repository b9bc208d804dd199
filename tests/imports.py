"""What a module imports of this repository, read from its source with `ast`: at module
level or inside a function, `if TYPE_CHECKING:` blocks left out where asked. The
layering tests (tests/test_architecture.py) check the arrows with it, and clearnode-
client's (tests/client/test_modules.py) compute the modules the SDK needs, transitively,
which client/pyproject.toml must list."""

from __future__ import annotations

import ast
from pathlib import Path


class ReachesForbidden(Exception):
    """A module of the closure is of a package it may not reach, or is not in the source:
    the message names the chain of imports that led there."""


def find_module(root: Path, name: str) -> Path | None:
    """The file of module `name` under `root` (a package's `__init__.py`), or None."""
    base = root.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def get_imports(root: Path, name: str, path: Path, type_checking: bool = True) -> set[str]:
    """The modules `name` (at `path`) imports, wherever the statement is; `from a import
    b` counts `a` and, when it is a module, `a.b`. `type_checking=False` leaves out what
    an `if TYPE_CHECKING:` block imports (for annotations only, never at run time)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = (
        set()
        if type_checking
        else {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
    )
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            found.add(base)
            found.update(
                f"{base}.{alias.name}"
                for alias in node.names
                if find_module(root, f"{base}.{alias.name}") is not None
            )
    return found


def get_local_packages(root: Path) -> set[str]:
    """The repository's own top-level packages."""
    return {p.parent.name for p in root.glob("*/__init__.py")}


def get_module_name(root: Path, path: Path) -> str:
    """The dotted name of the module at `path` (a package's name for its `__init__.py`)."""
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def compute_closure(root: Path, packages: list[str], never: list[str]) -> dict[str, Path]:
    """Every module of `packages` and what they import of the repository's own packages,
    transitively, with each one's parent packages, by name; ReachesForbidden for one of
    the packages `never`."""
    local = get_local_packages(root)
    start = [
        get_module_name(root, path)
        for package in packages
        for path in sorted(root.joinpath(*package.split(".")).rglob("*.py"))
    ]
    came_from: dict[str, str] = {name: "" for name in start}
    modules: dict[str, Path] = {}
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in modules or name.split(".")[0] not in local:
            continue
        if name.split(".")[0] in never:
            raise ReachesForbidden(f"{name} may not be reached: {describe_chain(came_from, name)}")
        path = find_module(root, name)
        if path is None:
            raise ReachesForbidden(f"no module {name} in {root}: {describe_chain(came_from, name)}")
        modules[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        for found in [*parents, *get_imports(root, name, path)]:
            came_from.setdefault(found, name)
            todo.append(found)
    return dict(sorted(modules.items()))


def describe_chain(came_from: dict[str, str], name: str) -> str:
    chain = [name]
    while came_from.get(chain[-1]):
        chain.append(came_from[chain[-1]])
    return " <- ".join(chain)
