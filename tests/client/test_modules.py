"""clearnode-client's contents (client/pyproject.toml, built by hatchling through client/
hatch_build.py): the modules it lists are exactly the SDK and what it imports of this
repository, transitively, computed from the source (tests/imports.py), and never the node;
the wheel built from the tree, as `pip install ./client` builds it, ships exactly them
and the data files, byte for byte, with client/pyproject.toml's metadata, whose ranges
are the node's own."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from tests.imports import ReachesForbidden, compute_closure

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"
SDK = ["clearnode.client"]
NEVER = ["node", "consensus", "devnet", "bench", "tests"]
"""What the SDK may not ship: the node, its consensus, the tooling above them, the tests."""
INFO = "clearnode_client-0.2.0.dist-info"


def read_project() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((CLIENT / "pyproject.toml").read_text())
    return config


def get_listed() -> dict[str, list[str]]:
    """client/pyproject.toml's `modules` and `data`, what hatch_build.py includes."""
    hook: dict[str, list[str]] = read_project()["tool"]["hatch"]["build"]["hooks"]["custom"]
    return hook


def build_client(outdir: Path, *what: str) -> None:
    """`python -m build` of client/ into `outdir` (`--wheel`: the wheel from the tree
    alone; nothing: the sdist, then the wheel from it), with this environment's hatchling."""
    done = subprocess.run(
        [sys.executable, "-m", "build", "--quiet", "--no-isolation", *what, "--outdir",
         str(outdir), str(CLIENT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_listed_modules_are_what_the_sdk_imports() -> None:
    listed = get_listed()
    computed = {str(p.relative_to(ROOT)) for p in compute_closure(ROOT, SDK, NEVER).values()}
    missing = sorted(computed - set(listed["modules"]))
    assert missing == [], "the SDK imports these: list them in client/pyproject.toml"
    unused = sorted(set(listed["modules"]) - computed)
    assert unused == [], "nothing of the SDK imports these: drop them from client/pyproject.toml"
    assert listed["modules"] == sorted(listed["modules"]), "keep client/pyproject.toml sorted"
    assert [path for path in listed["data"] if not (ROOT / path).is_file()] == []


def test_reaching_the_node_is_refused_naming_the_chain_of_imports(tmp_path: Path) -> None:
    for package, source in [
        ("clearnode", ""),
        ("clearnode/client", "from clearing import rules\n"),
        ("clearing", ""),
        ("node", ""),
    ]:
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text(source)
    (tmp_path / "clearing" / "rules.py").write_text("def f():\n    import node.app\n")
    (tmp_path / "node" / "app.py").write_text("")
    with pytest.raises(ReachesForbidden) as raised:
        compute_closure(tmp_path, SDK, ["node"])
    assert "node.app <- clearing.rules <- clearnode.client" in str(raised.value)
    (tmp_path / "clearing" / "rules.py").write_text("")
    assert set(compute_closure(tmp_path, SDK, ["node"])) == {
        "clearing", "clearing.rules", "clearnode", "clearnode.client"
    }  # fmt: skip


def test_each_dependency_range_is_the_nodes_own() -> None:
    """The SDK is tested in the node's environment: it may not promise other versions (and
    so the wheelhouse of the node's dependencies holds the SDK's)."""
    client = read_project()["project"]
    node = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert client["version"] == node["version"]
    assert set(client["dependencies"]) <= set(node["dependencies"])
    assert "optional-dependencies" not in client
    for forbidden in ("trio", "libp2p", "numpy", "web3"):
        assert not [r for r in client["dependencies"] if r.startswith(forbidden)]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    directory = tmp_path_factory.mktemp("wheel")
    build_client(directory, "--wheel")
    return zipfile.ZipFile(directory / f"{INFO.removesuffix('.dist-info')}-py3-none-any.whl")


def test_the_wheel_ships_exactly_the_listed_files_as_they_are(wheel: zipfile.ZipFile) -> None:
    listed = get_listed()
    shipped = {name for name in wheel.namelist() if not name.startswith(INFO)}
    assert shipped == {*listed["modules"], *listed["data"]}
    for name in shipped:
        assert wheel.read(name) == (ROOT / name).read_bytes(), name
    assert "clearnode/client/transactions.py" in shipped
    web3_side = ("bridge/chain.py", "bridge/watcher.py")  # the SDK reads chains without web3
    assert not [n for n in shipped if n.startswith("node/") or n in web3_side]


def test_the_metadata_is_client_pyprojects(wheel: zipfile.ZipFile) -> None:
    project = read_project()["project"]
    metadata = wheel.read(f"{INFO}/METADATA").decode()
    assert "Name: clearnode-client\n" in metadata and "Version: 0.2.0\n" in metadata
    assert f"Requires-Python: {project['requires-python']}\n" in metadata
    required = [line.removeprefix("Requires-Dist: ") for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]  # fmt: skip
    assert {Requirement(r) for r in required} == {Requirement(r) for r in project["dependencies"]}
    assert "Provides-Extra" not in metadata
    assert (CLIENT / "README.md").read_text() in metadata
