"""A proving worker dies with its node, even one killed mid-task (SIGKILL runs none of
the node's stop): it must not prove on for no one. One that has grown past its bound is
replaced between two tasks."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from node.reports.worker import open_proving_worker

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


KEPT: list[bytearray] = []  # in the worker process: what its tasks hold on to


class GrowingTask:
    """A task that keeps `mb` MB more of the worker's memory (pages written, so resident)
    and answers with the worker's pid."""

    def __init__(self, mb: int) -> None:
        self.mb = mb

    def run(self, seed: bytes) -> tuple[object, ...]:
        KEPT.append(bytearray(b"\x01") * (self.mb * 2**20))
        return (os.getpid(),)


async def test_a_worker_grown_past_its_bound_is_replaced_before_the_next_task() -> None:
    async with open_proving_worker(growth_bytes=24 * 2**20) as worker:
        (first,), _ = await worker._run(GrowingTask(0), b"", 0)
        (within,), _ = await worker._run(GrowingTask(8), b"", 0)
        (past,), _ = await worker._run(GrowingTask(32), b"", 0)
        (replaced,), _ = await worker._run(GrowingTask(0), b"", 0)
    assert first == within == past != replaced
    assert worker.started == 2
