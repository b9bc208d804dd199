"""Four hosts (Linux network namespaces on this machine, tests/node/netns.py), each
operator making its home apart on its own host (docs/ceremony.md): the validators find
each other at their public addresses and commit blocks with one state root."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import load_config
from tests.node.netns import make_hosts
from tests.node.netproc import CeremonyNetwork, running
from tests.node.test_ceremony_processes import wait_for_commits

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


def test_four_operators_on_four_hosts_commit(tmp_path: Path) -> None:
    with make_hosts(4) as hosts:
        network = CeremonyNetwork(tmp_path, hosts.addresses, wrap=hosts.wrap)
        for i, home in enumerate(network.homes):
            peers = load_config(home).p2p.persistent_peers
            assert [p.split("/")[2] for p in peers] == hosts.addresses[:i] + hosts.addresses[
                i + 1 :
            ]
        with running(network) as net:
            wait_for_commits(net.homes, 3)
