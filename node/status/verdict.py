"""The latest solvency report's verdict, checked by this node as any member would.

Each newly stored report is verified once, in a worker thread (a batch of all
accounts' proofs), with the public checks of `clearnode verify --genesis`
(`proofs.report_check.get_sections`): validator quorum over the set that checked its
commitment (followed from the genesis set through the validator-set changes this node's
anchor carries), every solvency proof, the aggregates, the market under the state root
and the statement recomputed from the genesis, the collateral against the ledger's, the
clearing members, the defaults and accounts in default, and every account under the
root covered; and its hash is compared with the one committed in a block. The verdict
is display only: a failure of the verifier itself (a bug) is logged and shown, never
allowed to stop the node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import trio

from clearing.genesis import Genesis
from clearing.state import ClearingState
from clearing.validator_set import has_power
from node.reports.anchor import get_served_report
from node.reports.store import ReportStore
from node.storage import NodeStore
from proofs.errors import ReportDecodeError
from proofs.native_group import FAST
from proofs.pedersen import get_generators
from proofs.report import VotingPower, decode_report
from proofs.report_check import get_sections

log = logging.getLogger(__name__)

POLL_S = 2.0


def check_report(
    encoded: bytes,
    committed_hash: bytes | None,
    validators: Sequence[VotingPower],
    chain_id: int,
    genesis: Genesis | None,
    genesis_hash: bytes | None = None,
) -> dict[str, Any]:
    """What the status page shows of one stored report (`genesis` None: the statement is
    not recomputed; `genesis_hash` None: the root is not followed to the chain)."""
    try:
        report = decode_report(encoded)
    except ReportDecodeError as exc:
        return {"verdict": "INVALID", "failures": [f"undecodable: {exc}"]}
    sections = get_sections(
        get_generators(FAST), report, validators, chain_id, genesis, genesis_hash=genesis_hash
    )
    failures = [failure for _, verdict in sections for failure in verdict.failures]
    report_hash = report.get_hash()
    if committed_hash is None:
        failures.append("its hash is not committed in a block yet")
    elif committed_hash != report_hash:
        failures.append("its hash differs from the one committed in a block")
    return {
        "verdict": "VALID" if not failures else "INVALID",
        "epoch": report.epoch,
        "accounts": len(report.accounts),
        "report_hash": "0x" + report_hash.hex(),
        "signatures": len(report.signatures),
        "failures": failures,
    }


class ReportVerdicts:
    def __init__(
        self,
        store: ReportStore,
        blocks: NodeStore,
        genesis: Genesis,
        genesis_hash: bytes,
        state: Callable[[], ClearingState],
    ) -> None:
        self.store = store
        self.blocks = blocks
        self.state = state
        self.chain_id = genesis.chain_id
        # the genesis set, as a member's `clearnode verify --genesis` starts from: the
        # served anchor's set changes lead from it to the set that signed
        self.validators = [
            VotingPower(v.pubkey, v.power) for v in genesis.validators if has_power(v)
        ]
        self.genesis = genesis
        self.genesis_hash = genesis_hash
        self.latest: dict[str, Any] = {"verdict": "none yet"}

    def get(self) -> dict[str, Any]:
        return self.latest

    async def run(self) -> None:
        """Verifies each newly committed report once; until cancelled."""
        checked: int | None = None
        while True:
            epoch = self.store.get_latest_epoch()
            commit = encoded = None
            if epoch is not None and epoch != checked:  # the report is read only when new
                commit = self.store.get_commit(epoch)
            if epoch is not None and commit is not None:
                encoded = get_served_report(self.store, self.blocks, self.state(), epoch)
            if commit is not None and encoded is not None:
                try:
                    result = await trio.to_thread.run_sync(
                        check_report, encoded, commit.report_hash, self.validators,
                        self.chain_id, self.genesis, self.genesis_hash,
                    )  # fmt: skip
                except Exception as exc:  # the verifier's own failure: show it, keep the node
                    log.exception("verifying the report of epoch %d failed", epoch)
                    failure = f"the verifier failed: {type(exc).__name__}: {exc}"
                    result = {"verdict": "NOT CHECKED", "epoch": epoch, "failures": [failure]}
                self.latest = {**result, "commit_height": commit.height}
                checked = epoch
            await trio.sleep(POLL_S)
