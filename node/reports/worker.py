"""`python -m node.reports.worker`: the node's proving process.

Proving takes a fraction of a second per account, all of it holding the GIL;
run on the node's trio loop (or in one of its threads) it would stall
consensus. The validators prove an epoch's accounts between them
(node/reports/sharing.py), so a validator runs two tasks per epoch: its share
(`ShareTask`: the proofs of the accounts assigned to it) and then the report
(`ReportTask`: the report completed from every proof at hand, each checked, the
rest proven here).

Both run in one child process the node starts as its reports service starts and
keeps (`ProvingWorker`): its imports (~1.6 s of CPU) and the generators' tables
(~180 MB, ~2 s of CPU, built once per process by the native core for each proof
shape) are paid once per node, not twice per epoch, and before the first epoch
ends: a validator warms the worker with the proof of an empty account under the
statement its state gives (`WarmUpTask`). The node writes each task and the seed as one
pickle in a frame (node/framing.py) to the worker's stdin (the seed never appears
in argv) and reads the result from its stdout the same way; a refusal (an insolvent
account, a book that is not flat) is an answer, and the worker serves the next
task. The worker lowers its own CPU priority: on a busy machine consensus runs
first and the report waits.

The worker never outlives its node, even one killed mid-share (node/child_process.py).
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import trio

from clearing.transition.reported_accounts import AccountKey
from node.child_process import MAX_FRAME_BYTES, read_request, start_child, write_answer
from node.framing import FrameError, FrameReader, encode_frame
from node.reports.inputs import ReportInputs
from proofs.drafting import ReportDraft, complete_report, draft_report
from proofs.errors import ProofsError
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.report import Report, decode_report
from proofs.statement import SolvencyStatement, prove_solvency

log = logging.getLogger(__name__)

WORKER_NICENESS = 10
WORKER_GROWTH_BYTES = 64 * 2**20
"""How far the proving process may grow past its size after its first task before it is
replaced, between two tasks. A long-lived process keeps what its allocator took at its
peaks: 60-minute soaks saw it step up 1-4 MB at a time, flat between, 9 MB in an hour at
most. A node runs for years; at that pace a replacement comes after 7 hours at the
soonest, and costs the next task the process's start and the native core's tables (a
few seconds)."""


class ReportBuildError(Exception):
    """The worker refused or failed to build the report of `epoch`."""

    def __init__(self, epoch: int, reason: str) -> None:
        super().__init__(f"report of epoch {epoch} not built: {reason}")
        self.epoch = epoch
        self.reason = reason


@dataclass(frozen=True)
class ShareTask:
    inputs: ReportInputs
    keys: tuple[AccountKey, ...]  # the accounts assigned to this validator

    def run(self, seed: bytes) -> tuple[object, ...]:
        share = prove_share(self.inputs, seed, self.keys)
        return share.proven, share.proofs


@dataclass(frozen=True)
class ProvenShare:
    proven: tuple[AccountKey, ...]  # every account the report proves (not those in default)
    proofs: dict[AccountKey, bytes]  # of those assigned
    seconds: float = 0.0


@dataclass(frozen=True)
class ReportTask:
    inputs: ReportInputs
    proofs: dict[AccountKey, bytes]  # made by anyone, checked before use

    def run(self, seed: bytes) -> tuple[object, ...]:
        built = complete_unsigned_report(self.inputs, seed, self.proofs)
        return built.report.encode(), built.refused


@dataclass(frozen=True)
class WarmUpTask:
    """The proof of an empty account under `statement`, thrown away: the native core
    builds its tables for proofs of this shape (2.4 s of the first share's 2.7 s on an
    idle machine, far more at the worker's niceness on a busy one) before the first
    epoch ends, not inside its share."""

    statement: SolvencyStatement

    def run(self, seed: bytes) -> tuple[object, ...]:
        width = len(self.statement.input_labels)
        prove_solvency(get_generators(FAST), self.statement, b"warm-up", [0] * width, [1] * width)
        return ()


@dataclass(frozen=True)
class BuiltReport:
    report: Report  # unsigned
    refused: list[AccountKey]  # accounts whose given proof did not verify (proven here)
    seconds: float = 0.0


def draft_unsigned_report(inputs: ReportInputs, seed: bytes) -> ReportDraft:
    """The report before its proofs; the same for every holder of `seed`."""
    return draft_report(
        get_generators(FAST), inputs.epoch, inputs.state_root, inputs, inputs.accounts, seed,
        chain_id=inputs.chain_id, height=inputs.height, market=inputs.market,
        market_proof=inputs.market_proof,
        defaults=inputs.defaults, account_records=inputs.account_proofs,
    )  # fmt: skip


def prove_share(inputs: ReportInputs, seed: bytes, keys: tuple[AccountKey, ...]) -> ProvenShare:
    draft = draft_unsigned_report(inputs, seed)
    return ProvenShare(tuple(draft.jobs), draft.prove(keys))


def complete_unsigned_report(
    inputs: ReportInputs, seed: bytes, proofs: Mapping[AccountKey, bytes]
) -> BuiltReport:
    report, refused = complete_report(
        get_generators(FAST), draft_unsigned_report(inputs, seed), proofs
    )
    return BuiltReport(report, refused)


def build_unsigned_report(inputs: ReportInputs, seed: bytes) -> Report:
    """The unsigned report proven here alone; the same bytes for every holder of `seed`."""
    return complete_unsigned_report(inputs, seed, {}).report


class Prover(Protocol):
    """What the reports service asks of whoever proves for it."""

    async def prove_share(
        self, inputs: ReportInputs, seed: bytes, keys: tuple[AccountKey, ...]
    ) -> ProvenShare: ...

    async def complete(
        self, inputs: ReportInputs, seed: bytes, proofs: Mapping[AccountKey, bytes]
    ) -> BuiltReport: ...


class ProvingWorker:
    """The proving process: started at the first task, kept for the next ones, and
    started again after it exits or a task is interrupted mid-exchange (its pipe would
    be out of step). One task at a time."""

    def __init__(self, nursery: trio.Nursery, growth_bytes: int = WORKER_GROWTH_BYTES) -> None:
        self._nursery = nursery
        self._growth_bytes = growth_bytes
        self._process: trio.Process | None = None
        self._answers: FrameReader | None = None  # the process's stdout
        self._first_rss: int | None = None  # the process's size after its first task
        self._lock = trio.Lock()
        self.started = 0  # processes started so far

    async def warm_up(self, statement: SolvencyStatement) -> float:
        """Starts the process and readies it for proofs of `statement`'s shape (the
        epochs' to come, unless the market changes it); the seconds taken."""
        _, seconds = await self._run(WarmUpTask(statement), b"", 0)
        return seconds

    async def prove_share(
        self, inputs: ReportInputs, seed: bytes, keys: tuple[AccountKey, ...]
    ) -> ProvenShare:
        """This validator's share of the epoch's proofs."""
        (proven, proofs), seconds = await self._run(ShareTask(inputs, keys), seed, inputs.epoch)
        return ProvenShare(proven, proofs, seconds)

    async def complete(
        self, inputs: ReportInputs, seed: bytes, proofs: Mapping[AccountKey, bytes]
    ) -> BuiltReport:
        """The unsigned report completed from `proofs`."""
        task = ReportTask(inputs, dict(proofs))
        (encoded, refused), seconds = await self._run(task, seed, inputs.epoch)
        return BuiltReport(decode_report(encoded), refused, seconds)

    async def _run(
        self, task: ShareTask | ReportTask | WarmUpTask, seed: bytes, epoch: int
    ) -> tuple[Any, float]:
        """`task`'s result and the seconds taken; raises ReportBuildError (of `epoch`)."""
        async with self._lock:
            started = time.monotonic()
            process, answers = await self._get_process()
            try:
                answer = await _exchange(process, answers, pickle.dumps((task, seed)))
            except BaseException:
                self._stop(process)
                raise
            if answer is None:
                self._stop(process)
                code = await process.wait()
                raise ReportBuildError(epoch, f"the proving worker exited ({code})")
            self._replace_if_grown(process)
            verdict, value = pickle.loads(answer)
            if verdict != "ok":
                raise ReportBuildError(epoch, value)
            return value, time.monotonic() - started

    def _replace_if_grown(self, process: trio.Process) -> None:
        """Stops the process (the next task starts another) once it has grown more than
        `growth_bytes` past its size after its first task."""
        rss = read_rss_bytes(process.pid)
        if rss is None:
            return
        if self._first_rss is None:
            self._first_rss = rss
        elif rss - self._first_rss > self._growth_bytes:
            log.info("proving process %d replaced: %d MB resident, %d MB more than after its "
                     "first task (the bound is %d MB)", process.pid, rss >> 20,
                     (rss - self._first_rss) >> 20, self._growth_bytes >> 20)  # fmt: skip
            self._stop(process)

    async def _get_process(self) -> tuple[trio.Process, FrameReader]:
        if self._process is None or self._answers is None or self._process.returncode is not None:
            command = [sys.executable, "-m", "node.reports.worker"]
            run = partial(trio.run_process, command, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, check=False)  # fmt: skip
            process: trio.Process = await self._nursery.start(run)
            assert process.stdout is not None
            self._process, self._answers = process, FrameReader(process.stdout.receive_some)
            self._first_rss = None
            self.started += 1
            log.info("proving process %d started", process.pid)
        return self._process, self._answers

    def _stop(self, process: trio.Process) -> None:
        if process.returncode is None:
            process.kill()
        self._process = self._answers = None


async def _exchange(process: trio.Process, answers: FrameReader, request: bytes) -> bytes | None:
    """Send one framed request, read one framed answer (None: the worker exited)."""
    assert process.stdin is not None
    try:
        await process.stdin.send_all(encode_frame(request, MAX_FRAME_BYTES))
        return await answers.read_frame(MAX_FRAME_BYTES)
    except (trio.BrokenResourceError, trio.ClosedResourceError, FrameError):
        return None


def read_rss_bytes(pid: int) -> int | None:
    """The resident memory of process `pid`; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kilobytes = next(
        (line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), None
    )
    return None if kilobytes is None else int(kilobytes) * 1024


@asynccontextmanager
async def open_proving_worker(
    growth_bytes: int = WORKER_GROWTH_BYTES,
) -> AsyncIterator[ProvingWorker]:
    """A ProvingWorker whose process lives no longer than the block (killed on exit)."""
    async with trio.open_nursery() as nursery:
        yield ProvingWorker(nursery, growth_bytes)
        nursery.cancel_scope.cancel()


def main() -> int:
    """Serve tasks from stdin until it closes (mid-task too: node/child_process.py)."""
    stdin = start_child(WORKER_NICENESS)
    while (request := read_request(stdin)) is not None:
        task, seed = pickle.loads(request)  # classes of node.reports.worker
        try:
            answer: tuple[str, object] = ("ok", task.run(seed))
        except ProofsError as exc:
            answer = ("refused", f"{type(exc).__name__}: {exc}")
        write_answer(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
