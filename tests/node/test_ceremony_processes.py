"""Four validators whose operators made their homes apart (docs/ceremony.md) start with
`clearnode start` on loopback and commit blocks with one state root."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.node.netproc import CeremonyNetwork, read_roots, running

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


def wait_for_commits(homes: list[Path], height: int, timeout_s: float = 90) -> None:
    """Every node stored `height` blocks, each height with one root on every node."""
    deadline = time.monotonic() + timeout_s
    while True:
        roots = [read_roots(home / "data" / "node.sqlite3") for home in homes]
        for h in set().union(*roots):
            assert len({r[h] for r in roots if h in r}) == 1, f"height {h}: roots differ"
        if min(len(r) for r in roots) >= height:
            return
        if time.monotonic() > deadline:
            logs = {home.name: (home / "node.log").read_text()[-2000:] for home in homes}
            raise AssertionError(f"heights {[len(r) for r in roots]} after {timeout_s}s: {logs}")
        time.sleep(0.5)


def test_a_ceremony_network_commits(tmp_path: Path) -> None:
    with running(CeremonyNetwork(tmp_path, ["127.0.0.1"] * 4)) as net:
        assert "genesis hash" in net.check_outputs[0]
        wait_for_commits(net.homes, 3)
