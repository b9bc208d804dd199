"""A proving worker dies with its node, even one killed mid-task (SIGKILL runs none of
the node's stop): it must not prove on for no one."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
STARTED = "endless task started in"
WORKER_EXIT_S = 60.0  # a bound on a busy machine, not a speed: the exit is immediate
NODE = """
import trio
from node.reports.worker import open_proving_worker
from tests.node.reports.test_worker_lifetime import EndlessTask


async def main() -> None:
    async with open_proving_worker() as worker:
        await worker._run(EndlessTask(), b"", 0)


trio.run(main)
"""


class EndlessTask:
    """A task that says it started, with its worker's pid, and never ends."""

    def run(self, seed: bytes) -> tuple[object, ...]:
        print(STARTED, os.getpid(), file=sys.stderr, flush=True)
        threading.Event().wait()
        raise AssertionError("never ends")


@pytest.mark.multiprocess
def test_a_worker_mid_task_exits_when_its_node_is_killed() -> None:
    node = subprocess.Popen(
        [sys.executable, "-c", NODE], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )  # the worker writes to the node's stderr
    try:
        assert node.stderr is not None
        line = next(line for line in node.stderr if line.startswith(STARTED))
        worker = int(line.split()[-1])
        try:
            exited = os.pidfd_open(worker)
        except ProcessLookupError:  # gone already
            pytest.fail("the worker exited before its node was killed")
        node.kill()
        node.wait()
        readable, _, _ = select.select([exited], [], [], WORKER_EXIT_S)
        os.close(exited)
        if not readable:
            os.kill(worker, signal.SIGKILL)
        assert readable, f"worker {worker} still proving {WORKER_EXIT_S:.0f} s after its node died"
    finally:
        node.kill()
        node.wait()
