"""`python -m node.reports.worker`: prove one report in its own process.

Proving takes a fraction of a second per account, all of it holding the GIL;
run on the node's trio loop (or in one of its threads) it would stall
consensus. The node writes the pickled `(ReportInputs, seed)` to the worker's
stdin (the seed never appears in argv) and reads the unsigned report's
encoding from its stdout; a refusal (an insolvent account, a book that is not
flat) is one line on stderr and exit code 1. The worker lowers its own CPU
priority: on a busy machine consensus runs first and the report waits.
"""

from __future__ import annotations

import os
import pickle
import sys
import time

import trio

from node.reports.inputs import ReportInputs
from proofs.errors import ProofsError
from proofs.group import FAST
from proofs.pedersen import get_generators
from proofs.report import Report, build_report, decode_report

WORKER_NICENESS = 10


class ReportBuildError(Exception):
    """The worker refused or failed to build the report of `epoch`."""

    def __init__(self, epoch: int, reason: str) -> None:
        super().__init__(f"report of epoch {epoch} not built: {reason}")
        self.epoch = epoch
        self.reason = reason


def build_unsigned_report(inputs: ReportInputs, seed: bytes) -> Report:
    """The unsigned report; the same bytes for every holder of `seed`."""
    gens = get_generators(FAST)
    return build_report(
        gens, inputs.epoch, inputs.state_root, inputs, inputs.accounts, seed,
        chain_id=inputs.chain_id, market=inputs.market,
        market_proof=inputs.market_proof, defaults=inputs.defaults,
    )  # fmt: skip


async def run_worker(inputs: ReportInputs, seed: bytes) -> tuple[Report, float]:
    """Build in a child process (cancelling kills it); the report and seconds taken."""
    started = time.monotonic()
    result = await trio.run_process(
        [sys.executable, "-m", "node.reports.worker"],
        stdin=pickle.dumps((inputs, seed)),
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise ReportBuildError(inputs.epoch, lines[-1] if lines else f"exit {result.returncode}")
    return decode_report(result.stdout), time.monotonic() - started


def main() -> int:
    os.nice(WORKER_NICENESS)
    inputs, seed = pickle.loads(sys.stdin.buffer.read())
    try:
        report = build_unsigned_report(inputs, seed)
    except ProofsError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(report.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
