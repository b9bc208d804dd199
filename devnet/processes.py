"""The validators as OS processes: `clearnode start --home DIR` each, with this
interpreter, logging to `DIR/node.log`, each in a session of its own (so a signal to the
devnet's process group reaches them through the devnet alone, once: devnet/stopping.py);
every process started is stopped when the block exits, whether it ends normally, fails
or is stopped by a signal, and so is every process it started (its CometBFT, its proving
worker): they are in its process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from node.cometbft.process import STOP_GRACE_S as COMETBFT_STOP_GRACE_S

ROOT = Path(__file__).resolve().parents[1]
STOP_GRACE_S = COMETBFT_STOP_GRACE_S + 5.0
"""How long a node gets to stop after SIGTERM before it is killed: longer than it gives
its CometBFT, which it stops first."""


def start_node(home: Path) -> subprocess.Popen[bytes]:
    """`python -m node.commands start --home HOME`, stdout and stderr to HOME/node.log."""
    with open(home / "node.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "node.commands", "start", "--home", str(home)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            start_new_session=True,  # its own process group, its children's too
        )


def stop_nodes(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every node at once, then SIGKILL to the process group of one still
    running `STOP_GRACE_S` after: the node and what it started. One SIGTERM each: a node
    takes a second signal as "exit at once", skipping its ordered stop, whose first step
    stops its CometBFT (one left mid-block by its app ignores SIGTERM and would outlive
    the devnet)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # the group ended meanwhile
                os.killpg(process.pid, signal.SIGKILL)  # not reaped yet: its group's id
            process.wait()


@contextmanager
def run_nodes(homes: list[Path]) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for home in homes:
            processes.append(start_node(home))
        yield processes
    finally:
        stop_nodes(processes)
