"""clearnode-client installed on its own (tests/clearnode/client/install.py): the SDK and
the modules it imports, none of the node's packages or dependencies, nor web3; the
pure-Python group in place of the native core; the reference page the installed SDK
prints is the committed one. The docs' examples, deposits and relaying included, run in
this install against the live network (test_docs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofs.backends import NATIVE_CORE
from tests.clearnode.client.install import NEVER_INSTALLED, ClientInstall
from tests.node.netproc import ROOT

# `multiprocess` although nothing here talks over loopback: the virtualenv is built once
# per package (conftest.py's `client_install`), and test_docs.py, which runs the docs'
# examples in it, is a process test. The marks send these tests to the same group of
# `make test` (tests/parallel.py), where the one install serves both modules.
pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.beside_networks]


def test_the_install_has_the_sdk_and_nothing_of_the_node_nor_web3(
    client_install: ClientInstall,
) -> None:
    probed = client_install.probed
    assert probed["found"] == dict.fromkeys(NEVER_INSTALLED, False)
    assert probed["group"] == "pure-python"
    # Every shipped module imports, but the native core's group, which proofs/backends.py
    # imports only where the native core is installed.
    assert probed["unimportable"] == {"proofs.native_group": NATIVE_CORE}


def test_the_installed_sdk_prints_the_committed_reference(
    client_install: ClientInstall, tmp_path: Path
) -> None:
    done = client_install.run(["-m", "clearnode.client.reference"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / "docs" / "sdk-reference.md").read_text()
