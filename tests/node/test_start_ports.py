"""Two `clearnode start` given the same p2p port at the same instant: one runs, the other
stops with the one line naming `p2p.listen_port`, exit 2 (both found the port free before
their ~1 s of imports, so the p2p host's own bind must be the one that refuses)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from node.commands import main
from tests.node.netproc import CLEARNODE, get_free_port, read_roots, spawn, stop_processes

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]


def test_two_nodes_started_at_once_on_one_p2p_port_leave_one_running(tmp_path: Path) -> None:
    p2p = get_free_port()
    homes = [tmp_path / "a", tmp_path / "b"]
    for home in homes:
        api = str(get_free_port())
        assert main(["init", "--home", str(home), "--p2p-port", str(p2p), "--api-port", api]) == 0
    processes = {}
    try:
        for home in homes:
            command = [str(CLEARNODE), "start", "--home", str(home)]
            processes[home.name] = spawn(command, home / "node.log")
        deadline = time.monotonic() + 60
        while all(process.poll() is None for process in processes.values()):
            assert time.monotonic() < deadline, "both nodes run on one p2p port"
            time.sleep(0.1)
        (loser,) = [name for name, process in processes.items() if process.poll() is not None]
        (winner,) = [name for name in processes if name != loser]
        # past its bind, had it failed there too: it commits a block
        while not read_roots(tmp_path / winner / "data" / "node.sqlite3"):
            assert processes[winner].poll() is None, "the other node stopped too"
            assert time.monotonic() < deadline, "the other node commits no block"
            time.sleep(0.1)
        assert processes[loser].returncode == 2
        assert processes[winner].poll() is None
        log = (tmp_path / loser / "node.log").read_text()
        (line,) = [line for line in log.splitlines() if line.startswith("clearnode start:")]
        assert "key 'p2p.listen_port'" in line and f"{p2p} (" in line
        assert "Traceback" not in log
    finally:
        stop_processes(processes)
