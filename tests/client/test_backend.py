"""clearnode-client's build (client/backend.py): the wheel ships the SDK and exactly the
modules of this repository it imports, never the node; its metadata is client/
pyproject.toml's, whose ranges are the node's own; the sdist builds the same wheel."""

from __future__ import annotations

import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.client.support import CLIENT, load_backend

ROOT = Path(__file__).resolve().parents[2]


backend = load_backend()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    directory = tmp_path_factory.mktemp("wheel")
    return zipfile.ZipFile(directory / backend.build_wheel(str(directory)))


def test_the_wheel_ships_the_sdk_and_the_modules_it_imports(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    sdk = {str(p.relative_to(ROOT)) for p in (ROOT / "clearnode" / "client").glob("*.py")}
    assert sdk <= names
    assert {"clearing/trade.py", "lightclient/anchor.py", "proofs/verify.py"} <= names
    assert {
        "bridge/withdrawal_relay.py",
        "bridge/contracts/artifacts/CollateralVault.json",
    } <= names
    assert {n.split("/")[0] for n in names} == {
        "bridge", "clearing", "clearnode", "lightclient", "proofs",
        "clearnode_client-0.2.0.dist-info",
    }  # fmt: skip
    assert not {
        n
        for n in names
        if n.startswith(("bridge/watcher", "bridge/anvil", "bridge/chain", "proofs/sample"))
    }
    for name in names - {n for n in names if n.endswith(".dist-info/RECORD")}:
        if name.endswith(".py") and not name.startswith("clearnode_client"):
            assert wheel.read(name) == (ROOT / name).read_bytes(), name


def test_every_shipped_module_finds_what_it_imports_of_the_repository(
    wheel: zipfile.ZipFile,
) -> None:
    names = set(wheel.namelist())
    local = backend.get_local_packages(ROOT)
    for name in (n for n in names if n.endswith(".py")):
        module = name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for imported in backend.get_imports(ROOT, module, ROOT / name):
            if imported.split(".")[0] in local:
                path = backend.find_module(ROOT, imported)
                assert str(path.relative_to(ROOT)) in names, f"{module} imports {imported}"


def test_the_record_and_metadata_are_the_wheels(wheel: zipfile.ZipFile) -> None:
    info = "clearnode_client-0.2.0.dist-info"
    rows = [line.split(",") for line in wheel.read(f"{info}/RECORD").decode().splitlines()]
    assert sorted(name for name, _, _ in rows) == sorted(wheel.namelist())
    for name, digest, size in rows:
        if name != f"{info}/RECORD":
            data = wheel.read(name)
            assert (digest, size) == (f"sha256={backend.get_digest(data)}", str(len(data)))
    metadata = wheel.read(f"{info}/METADATA").decode()
    assert "Name: clearnode-client\n" in metadata
    assert "Requires-Dist: web3" not in metadata and "Provides-Extra" not in metadata
    assert "Requires-Dist: py-ecc>=7.0,<9\n" in metadata


def test_each_dependency_range_is_the_nodes_own() -> None:
    """The SDK is tested in the node's environment: it may not promise other versions."""
    client = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    node = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert client["version"] == node["version"]
    assert set(client["dependencies"]) <= set(node["dependencies"])
    for forbidden in ("trio", "libp2p", "numpy", "web3"):
        assert not [r for r in client["dependencies"] if r.startswith(forbidden)]


def test_reaching_the_node_fails_the_build_and_names_the_chain(tmp_path: Path) -> None:
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
    with pytest.raises(backend.BuildError) as raised:
        backend.compute_modules(tmp_path, ["clearnode.client"], ["node"])
    assert "node.app <- clearing.rules <- clearnode.client" in str(raised.value)


def test_the_sdist_builds_the_same_wheel(tmp_path: Path, wheel: zipfile.ZipFile) -> None:
    sdist = tmp_path / backend.build_sdist(str(tmp_path))
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    unpacked = next((tmp_path / "unpacked").iterdir())
    assert (unpacked / "clearing" / "trade.py").is_file()
    rebuilt = load_backend(unpacked).build_wheel(str(tmp_path))
    assert (tmp_path / rebuilt).read_bytes() == Path(str(wheel.filename)).read_bytes()
