"""The layering rules of docs/architecture.md, checked on the source itself.

The pure cores (records/, clearing/, consensus/, lightclient/, proofs/) must never reach
for I/O frameworks, and arrows between packages point one way only. Checked on the AST so
that a lazy import inside a function is caught as well.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.imports import get_imports, get_local_packages, get_module_name

ROOT = Path(__file__).resolve().parent.parent

IO_FRAMEWORKS = {"trio", "libp2p", "web3", "asyncio", "socket", "requests", "sqlite3"}

BELOW_TOOLING: dict[str, set[str]] = {
    "clearing": IO_FRAMEWORKS | {"node", "bridge", "consensus", "proofs", "random", "time"},
    "consensus": IO_FRAMEWORKS | {"node", "bridge", "clearing", "proofs", "time"},
    # What a verifier follows the chain with: consensus makes these records, proofs
    # checks a report's state root with them, and neither may be needed to read them.
    "lightclient": IO_FRAMEWORKS | {"node", "bridge", "clearing", "consensus", "proofs", "time"},
    # The codec and the declared records every package encodes with: the bottom.
    "records": IO_FRAMEWORKS
    | {"node", "bridge", "clearing", "consensus", "proofs", "lightclient", "random", "time"},
    "proofs": IO_FRAMEWORKS | {"node", "bridge", "consensus"},
    "bridge": {"node", "consensus", "proofs"},
    "node": set(),
    # The client SDK: what members, venues and relayers install and run on their own
    # (clearnode-client, client/): never the node's packages or its heavy dependencies.
    "clearnode": {"node", "consensus", "libp2p", "trio", "numpy", "clearnode_native"},
}
TOOLING = {"devnet", "bench"}
"""Above the node: what runs the whole system on one machine, and what measures it.
Nothing below imports them (the command line, node/commands/, finds `clearnode devnet` by
its entry point)."""
FORBIDDEN: dict[str, set[str]] = {
    **{package: banned | TOOLING for package, banned in BELOW_TOOLING.items()},
    "devnet": {"bench"},
}
CLIENT_NEVER_LOADS = (
    "node", "consensus", "libp2p", "trio", "numpy", "clearnode_native", "web3",
    "bridge.chain", "bridge.vault", "bridge.relayer",
)  # fmt: skip
"""Not loaded by importing every module of clearnode.client: web3 (the SDK talks to a chain
over plain JSON-RPC), so nor bridge/'s web3 calls; the native core and numpy by nothing
the SDK does (proofs/ uses them where installed)."""
CHAIN_CLIENT = ("web3", "eth_account", "eth_keyfile")
"""What talking to a chain imports (over a quarter of a node's start-up imports): loaded only
where a node has `[[bridge_chains]]` or an evm price source, never by the runtime itself."""


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    violations = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {k: v for k, v in violations.items() if v} == {}


def test_the_client_sdk_loads_nothing_of_the_node_nor_web3() -> None:
    """Transitively too: what `clearnode.client` imports of clearing, lightclient and
    proofs must not pull them in (a fresh interpreter, so this test's own imports do not
    count; web3 made unimportable, as in clearnode-client's base install)."""
    modules = sorted(
        "clearnode.client." + path.stem
        for path in (ROOT / "clearnode" / "client").glob("*.py")
        if path.stem != "__init__"
    )
    probe = (
        "import importlib, sys\n"
        "sys.modules['web3'] = None\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "loaded = {p for m, module in sys.modules.items() if module\n"
        "          for p in (m.split('.')[0], m)}\n"
        f"print(sorted(loaded & set({CLIENT_NEVER_LOADS})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_node_runtime_loads_no_chain_client() -> None:
    """`clearnode start` imports its engine's runtime before it listens, four times per test
    network: what talks to a chain is imported only by the branches that start chain
    tasks (a fresh interpreter, so this test's own imports do not count)."""
    probe = (
        "import importlib, sys\n"
        "for name in ('node.engine.runtime', 'node.cometbft.runtime'):\n"
        "    importlib.import_module(name)\n"
        f"    print(name, sorted(m for m in {CHAIN_CLIENT!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == ["node.engine.runtime []", "node.cometbft.runtime []"]


def test_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    import trio.lowlevel\n    from web3 import Web3\n")
    assert imported_roots(sample) == {"trio", "web3"}


def test_no_float_literals_or_float_calls_in_clearing() -> None:
    offenders = []
    for path in sorted((ROOT / "clearing").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, float):
                offenders.append(f"{path.name}:{node.lineno} literal {node.value}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "float":
                offenders.append(f"{path.name}:{node.lineno} float()")
    assert offenders == []


def test_the_service_interface_imports_no_service() -> None:
    """node/services/ says what a service is; node/startup/service_list.py alone lists them,
    so a service module may import the interface without a circle."""
    listed = ROOT / "node" / "startup" / "service_list.py"
    services = {
        node.module
        for node in ast.walk(ast.parse(listed.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith(".service")
    }
    assert "node.bridge.service" in services and len(services) > 4
    interface = ast.parse((ROOT / "node" / "services" / "service.py").read_text())
    imported = {
        node.module for node in ast.walk(interface) if isinstance(node, ast.ImportFrom)
    } | {alias.name for node in ast.walk(interface) if isinstance(node, ast.Import)
         for alias in node.names}  # fmt: skip
    assert imported & services == set()


def get_runtime_imports(root: Path, type_checking: bool = False) -> dict[str, set[str]]:
    """Each module of the packages under `root` and the modules of them it imports when it
    runs (at module level or in a function; an import for type checking only is an arrow
    only with `type_checking`), read from the source (tests/imports.py)."""
    modules = {
        get_module_name(root, path): path
        for package in get_local_packages(root) - {"tests"}
        for path in (root / package).rglob("*.py")
    }
    return {
        name: {
            imported
            for imported in get_imports(root, name, path, type_checking)
            if imported in modules and imported != name
        }
        for name, path in modules.items()
    }


def find_circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other round a loop (Tarjan's strongly
    connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in imports[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return circles


def test_no_module_imports_one_that_imports_it_back() -> None:
    """A circle of imports at run time makes the import order matter and the parts
    inseparable."""
    assert find_circles(get_runtime_imports(ROOT)) == []


def test_no_module_names_a_type_of_one_that_imports_it_back() -> None:
    """Nor for annotations only (`if TYPE_CHECKING:`): a module's types come from below it,
    so the clearing state is plain data under the rules and caches built on it."""
    assert find_circles(get_runtime_imports(ROOT, type_checking=True)) == []


def test_circles_are_found_through_functions_but_not_type_checking(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg.b import g\n")
    (package / "b.py").write_text("from pkg import c\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from pkg.e import y\n")  # fmt: skip
    (package / "e.py").write_text("from pkg.d import x\n")
    assert find_circles(get_runtime_imports(tmp_path)) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert find_circles(get_runtime_imports(tmp_path, type_checking=True)) == [
        ["pkg.a", "pkg.b", "pkg.c"],
        ["pkg.d", "pkg.e"],
    ]


def get_folders(root: Path) -> dict[str, set[str]]:
    """Each folder of the packages under `root` and the other folders its modules import
    (for type checking too): a package's own `__init__` belongs to its folder."""

    def get_folder(module: str) -> str:
        is_package = (root / module.replace(".", "/")).is_dir()
        return module if is_package else module.rpartition(".")[0]

    folders: dict[str, set[str]] = {}
    for module, imported in get_runtime_imports(root, type_checking=True).items():
        folder = get_folder(module)
        folders.setdefault(folder, set()).update(
            {get_folder(other) for other in imported} - {folder}
        )
    return folders


def test_folders_are_layers() -> None:
    """Folders import each other one way only (docs/architecture.md: clearing/'s and
    node/'s layers, bottom up), so a reader meets every name below the folder it reads."""
    assert find_circles(get_folders(ROOT)) == []


def test_a_circle_of_folders_is_found(tmp_path: Path) -> None:
    for name in ("pkg", "pkg/sub"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.sub.b import g\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("def g():\n    from pkg.c import h\n")
    (tmp_path / "pkg" / "c.py").write_text("def h(): ...\n")
    assert find_circles(get_folders(tmp_path)) == [["pkg", "pkg.sub"]]
