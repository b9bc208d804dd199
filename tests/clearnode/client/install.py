"""clearnode-client installed as a member would: `pip install ./client` into a new
virtualenv (no pip of its own: this environment's pip installs into it), then probed.
Versions are pinned to this
environment's (`pip freeze` as constraints), so the install is the tested one, and come
from the wheelhouse `make test` fills with them (the Makefile's WHEELHOUSE) alone:
no package registry, no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.node.netproc import ROOT

PIP_TIMEOUT_S = 300
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
"""The wheels of the node's and the SDK's dependencies and build backends at this
environment's versions (`make wheelhouse`, which `make test` runs)."""
NEVER_INSTALLED = ("trio", "libp2p", "web3", "numpy", "clearnode_native", "node", "consensus")
"""What the install must not have: the node, its engine and heavy dependencies, web3."""

PROBE = """
import importlib, importlib.metadata, importlib.util, json
import clearnode.client
from proofs.backends import get_fastest

found = {name: importlib.util.find_spec(name) is not None for name in NAMES}
unimportable = {}
for path in importlib.metadata.files("clearnode-client"):
    if path.suffix == ".py":
        module = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            unimportable[module] = exc.name
print(json.dumps({"found": found, "unimportable": unimportable, "group": get_fastest().name}))
"""


@dataclass(frozen=True)
class ClientInstall:
    """The virtualenv's interpreter, and what the probe found in it."""

    python: Path
    probed: dict[str, Any]

    def run(self, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        """`python argv` in the virtualenv, away from this repository's sources."""
        return subprocess.run(
            [str(self.python), *argv], cwd=cwd, env=get_clean_env(), capture_output=True,
            text=True, timeout=PIP_TIMEOUT_S, check=False,
        )  # fmt: skip


def get_clean_env() -> dict[str, str]:
    """This environment less anything that would put the repository or this venv on the path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def get_missing_wheelhouse() -> str | None:
    """Why the SDK cannot be installed offline, if it cannot."""
    if not WHEELHOUSE.is_dir():
        return (
            f"no wheelhouse of the node's and clearnode-client's dependencies at {WHEELHOUSE}: "
            "run `make wheelhouse` (`make test` does)"
        )
    return None


def pip_install(python: Path, target: str, constraints: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--disable-pip-version-check", "--no-index", "--find-links", str(WHEELHOUSE),
         "--constraint", str(constraints), target],
        cwd=ROOT, env=get_clean_env(), capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"pip install {target} from {WHEELHOUSE} (if a dependency or version is missing from"
        f" it, run `make wheelhouse`):\n{done.stdout}{done.stderr}"
    )


def probe(python: Path, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", f"NAMES = {NEVER_INSTALLED!r}\n{PROBE}"], cwd=cwd,
        env=get_clean_env(), capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def install_client(base: Path) -> ClientInstall:
    """clearnode-client in a new virtualenv under `base`, probed."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    constraints = base / "constraints.txt"
    constraints.write_text("".join(line + "\n" for line in frozen.splitlines() if "==" in line))
    pip_install(python, "./client", constraints)
    return ClientInstall(python, probe(python, base))
