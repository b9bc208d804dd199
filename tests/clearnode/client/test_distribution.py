"""clearnode-client installed on its own (tests/clearnode/client/install.py): the SDK and
the modules it imports, none of the node's packages or dependencies; web3 only with the
`chain` extra, and a typed error naming it before; py-ecc's reference in place of the
native core; the reference page the installed SDK prints is the committed one. The docs'
examples run in this install against the live network (test_docs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofs.backends import NATIVE_CORE
from tests.clearnode.client.install import NEVER_INSTALLED, ClientInstall
from tests.node.netproc import ROOT

# `multiprocess` although nothing here talks over loopback: the virtualenv is built once
# per package (conftest.py's `client_install`), and test_docs.py, which runs the docs'
# examples in it, is a process test. The mark sends these tests to the same worker of
# `make test` (tests/parallel.py), where the one install serves both modules.
pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


def test_the_base_install_has_the_sdk_and_nothing_of_the_node(
    client_install: ClientInstall,
) -> None:
    base = client_install.base
    assert base["found"] == dict.fromkeys(NEVER_INSTALLED, False)
    assert base["group"] == "py-ecc"
    # Only bridge's chain calls fail to import, for want of web3 alone, and the native
    # core's group, which proofs/backends.py imports only where the native core is installed.
    unimportable = dict(base["unimportable"])
    assert unimportable.pop("proofs.native_group") == NATIVE_CORE
    assert unimportable, "the chain calls import without web3?"
    assert {m.split(".")[0] for m in unimportable} == {"bridge"}
    assert set(unimportable.values()) == {"web3"}
    assert "pip install 'clearnode-client[chain]'" in base["vault"]


def test_the_chain_extra_adds_web3_and_nothing_else_of_the_node(
    client_install: ClientInstall,
) -> None:
    chain = client_install.chain
    assert chain["found"] == {**dict.fromkeys(NEVER_INSTALLED, False), "web3": True}
    assert chain["unimportable"] == {"proofs.native_group": NATIVE_CORE}
    assert chain["vault"] != "connected" and "clearnode-client[chain]" not in chain["vault"]


def test_the_installed_sdk_prints_the_committed_reference(
    client_install: ClientInstall, tmp_path: Path
) -> None:
    done = client_install.run(["-m", "clearnode.client.reference"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / "docs" / "sdk-reference.md").read_text()
