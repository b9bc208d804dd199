"""`clearnode start` stops in order on SIGTERM and SIGINT: exit 0, a 'stopped' line, and a
restart resumes where it stopped."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.node.netproc import QUICK_BLOCKS, cli_network, read_roots

# one validator, a quorum alone: no peer's timeout to miss beside the networks' tests
pytestmark = [pytest.mark.slow, pytest.mark.multiprocess, pytest.mark.beside_networks]


def wait_for_height(db: Path, height: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(read_roots(db)) < height:
        assert time.monotonic() < deadline, f"{db} did not reach height {height}"
        time.sleep(0.2)


def test_a_signal_stops_the_node_in_order_and_a_restart_resumes(tmp_path: Path) -> None:
    """SIGTERM, as a service manager stops it, then SIGINT, as a terminal's Ctrl-C, on one
    node: each stop is in order and each restart resumes where the last stopped."""
    with cli_network(tmp_path / "net", validators=1, extra_config=QUICK_BLOCKS) as net:
        (home,) = net.homes
        db = home / "data" / "node.sqlite3"  # `cli_network` started the node
        wait_for_height(db, 3)
        for signum in (signal.SIGTERM, signal.SIGINT):
            stop_in_order(net.processes[home.name], home / "node.log", signum)
            stopped_at = len(read_roots(db))
            net.start(home)
            wait_for_height(db, stopped_at + 2)


def stop_in_order(process: subprocess.Popen[bytes], log_path: Path, signum: signal.Signals) -> None:
    """`signum` stops the node within 15 s with exit 0, and its log says so."""
    logged = log_path.read_text()  # a restart appends to the same log
    process.send_signal(signum)
    try:
        assert process.wait(timeout=15) == 0
    except subprocess.TimeoutExpired:
        pytest.fail(f"the node did not stop within 15 s of {signum.name}")
    log = log_path.read_text()[len(logged) :]
    assert f"received {signum.name}: stopping" in log
    assert '"message":"stopped"' in log
