"""The release files (`make dist`): the node's and clearnode-client's sdists and wheels,
each wheel built from its sdist, installed offline (pip --no-index, from the wheelhouse
`make test` fills) into fresh virtualenvs, and run there: the node's `clearnode
verify` checks a committed report, the client built from its sdist prints its reference,
and the client's wheel is the one its tree builds (so the sdist holds all it needs)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.clearnode.client.install import WHEELHOUSE, get_clean_env, get_missing_wheelhouse
from tests.client.test_modules import build_client
from tests.vectors.make_reports import NOW_MS, REPORTS

# Slow and a process test: `make`, two virtualenvs, pip and the installed programs run
# as separate processes, beside the network tests (no check here waits on a deadline).
pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.beside_networks]

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600
RELEASE = [
    "clearnode-0.2.0-py3-none-any.whl",
    "clearnode-0.2.0.tar.gz",
    "clearnode_client-0.2.0-py3-none-any.whl",
    "clearnode_client-0.2.0.tar.gz",
]


def run(argv: list[str], cwd: Path) -> str:
    """`argv`'s stdout once it exited 0, away from this checkout's sources and venv."""
    done = subprocess.run(
        argv, cwd=cwd, env=get_clean_env(), capture_output=True, text=True, timeout=TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout


def install_offline(base: Path, target: Path) -> Path:
    """`target` installed into a new virtualenv under `base` from the wheelhouse alone;
    the virtualenv's bin directory."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--disable-pip-version-check", "--no-index", "--find-links",
         str(WHEELHOUSE), str(target)], base)  # fmt: skip
    return venv / "bin"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = get_missing_wheelhouse()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    out = tmp_path_factory.mktemp("dist")
    run(["make", "--no-print-directory", "dist", f"DIST={out}"], ROOT)
    return out


def test_make_dist_writes_both_sdists_and_the_wheels_they_build(dist: Path, tmp_path: Path) -> None:
    assert sorted(p.name for p in dist.iterdir()) == RELEASE
    build_client(tmp_path, "--wheel")  # from the tree, as `pip install ./client` does
    wheel = "clearnode_client-0.2.0-py3-none-any.whl"
    assert (tmp_path / wheel).read_bytes() == (dist / wheel).read_bytes()
    with zipfile.ZipFile(dist / "clearnode-0.2.0-py3-none-any.whl") as node:
        names = set(node.namelist())
        entry_points = node.read("clearnode-0.2.0.dist-info/entry_points.txt").decode()
    assert {"node/verifier/verify.html", "proofs/generators.bin", "configs/genesis.example.json",
            "bridge/contracts/artifacts/CollateralVault.json"} <= names  # fmt: skip
    assert not [n for n in names if n.startswith(("tests/", "native/", "client/"))]
    assert "clearnode = node.commands:main" in entry_points


def test_the_nodes_wheel_installs_offline_verifies_a_report_and_makes_a_home(
    dist: Path, tmp_path: Path
) -> None:
    bin_dir = install_offline(tmp_path, dist / "clearnode-0.2.0-py3-none-any.whl")
    clearnode = str(bin_dir / "clearnode")
    assert run([clearnode, "--version"], tmp_path).split() == ["clearnode", "0.2.0"]
    report, genesis = REPORTS / "valid" / "report.bin", REPORTS / "genesis.json"
    verdict = run([clearnode, "verify", str(report), "--genesis", str(genesis),
                   "--now", str(NOW_MS)], tmp_path).splitlines()  # fmt: skip
    expected = json.loads((REPORTS / "valid" / "expected.json").read_text())["modes"]["genesis"]
    assert verdict[: len(expected["output"])] == expected["output"]  # then what is not checked
    run([clearnode, "init", "--home", str(tmp_path / "home")], tmp_path)  # an operator's first
    assert (tmp_path / "home" / "genesis.json").is_file()


def test_the_client_installs_offline_from_its_sdist(dist: Path, tmp_path: Path) -> None:
    bin_dir = install_offline(tmp_path, dist / "clearnode_client-0.2.0.tar.gz")
    printed = run([str(bin_dir / "python"), "-m", "clearnode.client.reference"], tmp_path)
    assert printed == (ROOT / "docs" / "sdk-reference.md").read_text()
    found = run([str(bin_dir / "python"), "-c", "import importlib.util as u; "
                 "print(u.find_spec('node'), u.find_spec('web3'))"], tmp_path)  # fmt: skip
    assert found.split() == ["None", "None"]
