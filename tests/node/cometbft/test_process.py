"""A node starting on a CometBFT home kills the CometBFT its last node left running there
(its parent gone, as after a SIGKILL of the node), and leaves be one whose node still
runs and a process the pid file names that is not this home's CometBFT; it removes the
RPC socket a killed CometBFT left, not a live one.

A stand-in plays CometBFT: `/bin/sh` as the binary runs `start`, a script in the test's
directory, so its command line is the one the node gives CometBFT (`binary start --home
HOME`) and it runs until killed."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from node.cometbft.process import (
    PID_FILE,
    DialFailure,
    OtherNetwork,
    find_dial_failure,
    find_other_network,
    get_command,
    get_parent,
    log_line,
    remove_stale_socket,
    stop_outlived,
)

SHELL = Path("/bin/sh")
ORPHANING = (
    "import subprocess as s, sys; "
    "print(s.Popen(sys.argv[1:], stdout=s.DEVNULL, stderr=s.DEVNULL).pid)"
)
"""Starts its arguments and exits at once: the process it started outlives its parent."""


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "start").write_text("while :; do sleep 0.1; done\n")
    home = tmp_path / "cometbft"
    home.mkdir()
    yield home
    pid_file = home / PID_FILE
    first = pid_file.read_text().split()[:1] if pid_file.exists() else []
    if first and first[0].isdigit():  # whatever a failed test left running
        pid = int(first[0])
        if get_parent(pid, get_command(SHELL, home)) is not None:
            os.kill(pid, signal.SIGKILL)


NO_PROCESS = 2**22 + 1
"""Above the largest pid Linux gives (pid_max is at most 2**22): no process has it."""


def start_orphan(home: Path) -> int:
    """The stand-in, started by a process that has exited."""
    command = [sys.executable, "-c", ORPHANING, *get_command(SHELL, home)]
    starter = subprocess.run(command, cwd=home.parent, capture_output=True, check=True, timeout=30)
    return int(starter.stdout)


async def test_a_cometbft_whose_node_died_is_killed_before_another_starts(home: Path) -> None:
    pid = start_orphan(home)
    (home / PID_FILE).write_text(f"{pid} {NO_PROCESS}\n")
    assert get_parent(pid, get_command(SHELL, home)) not in (None, NO_PROCESS)
    await stop_outlived(SHELL, home)
    assert get_parent(pid, get_command(SHELL, home)) is None


async def check_left_running(home: Path, command: list[str], node_pid: int, **kw: Any) -> None:
    """`command`'s process, named in the pid file beside `node_pid`, runs on after a node
    starting on `home` looked for a CometBFT to stop."""
    process = subprocess.Popen(command, **kw)
    try:
        (home / PID_FILE).write_text(f"{process.pid} {node_pid}\n")
        await stop_outlived(SHELL, home)
        await trio.sleep(0.2)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


async def test_a_cometbft_whose_node_runs_is_left_running(home: Path) -> None:
    await check_left_running(home, get_command(SHELL, home), os.getpid(), cwd=home.parent)


async def test_a_pid_file_naming_another_process_kills_nothing(home: Path) -> None:
    await check_left_running(home, ["sleep", "30"], NO_PROCESS)
    (home / PID_FILE).write_text("not pids\n")
    await stop_outlived(SHELL, home)  # unreadable: nothing to stop


def test_the_rpc_socket_a_killed_cometbft_left_is_removed_a_live_one_kept(tmp_path: Path) -> None:
    """CometBFT would not listen over a socket file, and exit; a running CometBFT's socket
    (a second node started on its home by mistake) is left to it."""
    path = tmp_path / "rpc.sock"
    remove_stale_socket(path)  # none there: nothing to do
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(path))
        live.listen()
        remove_stale_socket(path)
        assert path.is_socket()
    assert path.is_socket()  # closed without removing its file, as after a SIGKILL
    remove_stale_socket(path)
    assert not path.exists()


REFUSED = (
    "incompatible: peer is on a different network. Got clearnode-4242-786cd1769e53ec1e, "
    "expected clearnode-4242-818888f2dab2ddc7"
)
"""CometBFT's error for a peer of another genesis, as a node of the process test logged it."""


@pytest.mark.parametrize(
    ("line", "found"),
    [
        (
            {"level": "info", "module": "p2p", "tries": 0, "_msg": "Error reconnecting to peer. "
             "Trying again", "addr": "376f19bb1995513d6bf449035678f51b88ecf424@127.0.0.1:14807",
             "err": REFUSED},
            OtherNetwork("clearnode-4242-786cd1769e53ec1e", "clearnode-4242-818888f2dab2ddc7",
                         "376f19bb1995513d6bf449035678f51b88ecf424@127.0.0.1:14807"),
        ),
        (
            {"level": "info", "module": "p2p", "numPeers": 2, "_msg": "Inbound Peer rejected",
             "err": REFUSED},
            OtherNetwork("clearnode-4242-786cd1769e53ec1e", "clearnode-4242-818888f2dab2ddc7", ""),
        ),
        (
            {"level": "info", "module": "p2p", "_msg": "Inbound Peer rejected",
             "err": "filtered ID<376f19bb1995513d6bf449035678f51b88ecf424>: code 1"},
            None,
        ),
        ("not JSON", None),
    ],
)  # fmt: skip
def test_a_peer_of_another_network_is_read_from_cometbft_s_line(
    line: object, found: OtherNetwork | None
) -> None:
    """A dial names the peer refused; an inbound refusal does not (CometBFT's words)."""
    text = line if isinstance(line, str) else json.dumps(line)
    assert find_other_network(log_line(text)) == found


NODE_ID = "376f19bb1995513d6bf449035678f51b88ecf424"


@pytest.mark.parametrize(
    ("line", "found", "level"),
    [
        (
            {"level": "info", "module": "p2p", "_msg": "Error reconnecting to peer. Trying again",
             "tries": 3, "addr": f"{NODE_ID}@10.0.0.6:26666",
             "err": "dial tcp 10.0.0.6:26666: connect: connection refused"},
            DialFailure(NODE_ID, "10.0.0.6:26666",
                        "dial tcp 10.0.0.6:26666: connect: connection refused"),
            logging.INFO,
        ),
        (  # a peer that stopped or restarted: no error, nor a warning
            {"level": "error", "module": "p2p", "_msg": "Stopping peer for error",
             "peer": f"Peer{{MConn{{10.0.0.6:26666}} {NODE_ID} out}}", "err": "EOF"},
            None,
            logging.INFO,
        ),
        (  # a peer CometBFT dropped for what it sent: said, not an error of this node
            {"level": "error", "module": "p2p", "_msg": "Stopping peer for error",
             "peer": f"Peer{{MConn{{10.0.0.6:26666}} {NODE_ID} out}}",
             "err": "error unmarshaling message"},
            None,
            logging.WARNING,
        ),
        (
            {"level": "error", "module": "p2p", "_msg": "Error dialing peer",
             "err": "dial tcp 10.0.0.6:26666: i/o timeout"},
            None,
            logging.INFO,
        ),
        (  # a height's chatter: its finalizing line says what an operator reads
            {"level": "info", "module": "consensus", "_msg": "received proposal",
             "proposal": "Proposal{7/0 (ABCD:1:EF01, -1) 0123 @ 2026-11-27T03:21:23Z}"},
            None,
            logging.DEBUG,
        ),
        (
            {"level": "info", "module": "state", "_msg": "committed state", "height": 7,
             "block_app_hash": "ABCD"},
            None,
            logging.DEBUG,
        ),
        (  # the wait after each commit
            {"level": "info", "module": "consensus", "_msg": "Timed out", "dur": "88.8ms",
             "height": 7, "round": 0, "step": "RoundStepNewHeight"},
            None,
            logging.DEBUG,
        ),
        (  # a round that failed: kept
            {"level": "info", "module": "consensus", "_msg": "Timed out", "dur": "1s",
             "height": 7, "round": 0, "step": "RoundStepPropose"},
            None,
            logging.INFO,
        ),
        (
            {"level": "info", "module": "consensus", "_msg": "finalizing commit of block",
             "height": 7, "hash": "ABCD", "num_txs": 3},
            None,
            logging.INFO,
        ),
        (
            {"level": "error", "module": "consensus", "_msg": "CONSENSUS FAILURE!!!",
             "err": "boom"},
            None,
            logging.ERROR,
        ),
    ],
)  # fmt: skip
def test_a_persistent_peers_failed_redial_is_read_and_peer_churn_is_no_error(
    line: dict[str, object], found: DialFailure | None, level: int,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="cometbft")
    assert find_dial_failure(log_line(json.dumps(line))) == found
    (record,) = caplog.records
    assert record.levelno == level and record.getMessage().startswith(str(line["_msg"]))
