"""`python -m node.reports.worker`: prove in its own process.

Proving takes a fraction of a second per account, all of it holding the GIL;
run on the node's trio loop (or in one of its threads) it would stall
consensus. The validators prove an epoch's accounts between them
(node/reports/sharing.py), so a validator runs two tasks per epoch: its share
(`ShareTask`: the proofs of the accounts assigned to it) and then the report
(`ReportTask`: the report completed from every proof at hand, each checked, the
rest proven here). The node writes the pickled task and the seed to the
worker's stdin (the seed never appears in argv) and reads the pickled result
from its stdout; a refusal (an insolvent account, a book that is not flat) is
one line on stderr and exit code 1. The worker lowers its own CPU priority: on
a busy machine consensus runs first and the report waits.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import trio

from node.reports.inputs import AccountKey, ReportInputs
from proofs.errors import ProofsError
from proofs.group import FAST
from proofs.pedersen import get_generators
from proofs.report import Report, ReportDraft, complete_report, decode_report, draft_report

WORKER_NICENESS = 10


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
class BuiltReport:
    report: Report  # unsigned
    refused: list[AccountKey]  # accounts whose given proof did not verify (proven here)
    seconds: float = 0.0


def draft_unsigned_report(inputs: ReportInputs, seed: bytes) -> ReportDraft:
    """The report before its proofs; the same for every holder of `seed`."""
    return draft_report(
        get_generators(FAST), inputs.epoch, inputs.state_root, inputs, inputs.accounts, seed,
        chain_id=inputs.chain_id, market=inputs.market, market_proof=inputs.market_proof,
        defaults=inputs.defaults,
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


async def _run(task: ShareTask | ReportTask, seed: bytes) -> tuple[Any, float]:
    """`task` in a child process (cancelling kills it): its result and the seconds taken."""
    started = time.monotonic()
    result = await trio.run_process(
        [sys.executable, "-m", "node.reports.worker"],
        stdin=pickle.dumps((task, seed)),
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"exit {result.returncode}"
        raise ReportBuildError(task.inputs.epoch, reason)
    return pickle.loads(result.stdout), time.monotonic() - started


async def prove_share_in_worker(
    inputs: ReportInputs, seed: bytes, keys: tuple[AccountKey, ...]
) -> ProvenShare:
    """This validator's share of the epoch's proofs, proven in a child process."""
    (proven, proofs), seconds = await _run(ShareTask(inputs, keys), seed)
    return ProvenShare(proven, proofs, seconds)


async def build_in_worker(
    inputs: ReportInputs, seed: bytes, proofs: Mapping[AccountKey, bytes]
) -> BuiltReport:
    """The unsigned report completed from `proofs` in a child process."""
    (encoded, refused), seconds = await _run(ReportTask(inputs, dict(proofs)), seed)
    return BuiltReport(decode_report(encoded), refused, seconds)


def main() -> int:
    os.nice(WORKER_NICENESS)
    task, seed = pickle.loads(sys.stdin.buffer.read())  # classes of node.reports.worker
    try:
        result = task.run(seed)
    except ProofsError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
