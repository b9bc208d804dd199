"""The API's view of a node whose engine is CometBFT (`NodeInterface`): a transaction is
checked here first, so a refusal carries clearing's typed error and its numbers as on
our engine, then handed to CometBFT's mempool (its CheckTx runs the same check in this
process, and CometBFT gossips it to the other validators).

CometBFT keeps its mempool in memory, so a node killed before its gossip left would
lose what it had accepted. What 202 promises (docs/venue.md) holds as on our engine:
each accepted transaction is recorded in the node's store before the answer, forgotten
with the block that includes it, and handed to CometBFT again at the next start
(`resubmit_pending`: the ones the state refuses by then are forgotten)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import trio

from clearing.errors import ClearingError
from clearing.state import ClearingState
from consensus.compact import compute_tx_hash
from node.api.node_interface import build_status
from node.cometbft.rpc import CometRpc, RpcError, RpcUnreachable
from node.liveness import CommitWatch, NotCommitting
from node.mempool import (
    CheckFn,
    EngineRefused,
    MempoolError,
    TxRejected,
    TxTooLarge,
)
from node.metrics import NodeMetrics
from node.storage import NodeStore, StoredBlock
from records.codec import DecodeError

log = logging.getLogger(__name__)

ALREADY_PENDING = "tx already exists in cache"
"""CometBFT's answer to a transaction its mempool holds (or held lately)."""
FULL = "mempool is full"


@dataclass
class CometNode:
    chain_id: int
    moniker: str
    state: Callable[[], ClearingState]
    check: CheckFn
    pending: dict[bytes, bytes]
    """CometBFT's mempool as the app's CheckTx saw it (ClearingAbci.pending)."""
    rpc: CometRpc
    store: NodeStore
    max_tx_bytes: int
    commits: CommitWatch
    metrics: NodeMetrics | None = None
    status_extra: Callable[[], dict[str, object]] | None = None

    def __post_init__(self) -> None:
        if self.metrics is not None:
            pending = self.pending
            self.metrics.watch_mempool(lambda: len(pending), lambda: get_bytes(pending))

    async def submit_tx(self, tx: bytes) -> bytes:
        """Handed to CometBFT's mempool before it returns; a transaction it already holds
        answers its hash again, so a client may resubmit after a lost answer."""
        try:
            self.commits.check()
            await self.hand_over(tx)
        except MempoolError:
            self._count("rejected")
            raise
        self._count("accepted")
        return compute_tx_hash(tx)

    async def hand_over(self, tx: bytes) -> None:
        """Checked here, then into CometBFT's mempool; raises MempoolError if refused."""
        if len(tx) > self.max_tx_bytes:
            raise TxTooLarge(len(tx), self.max_tx_bytes)
        try:
            self.check(tx)
        except (ClearingError, DecodeError) as exc:
            raise TxRejected(exc) from exc
        try:
            answer = await self.rpc.broadcast_tx(tx)
        except RpcUnreachable as exc:  # not the transaction's fault: a venue fails over
            raise self.commits.refuse(f"its CometBFT does not answer ({exc.reason})") from exc
        except RpcError as exc:
            if ALREADY_PENDING in exc.reason:
                return
            raise EngineRefused(exc.reason, retry=FULL in exc.reason) from exc
        if answer.code != 0:  # the state moved between the two checks
            raise EngineRefused(f"{answer.error}: {answer.log}", retry=False)
        record = [(compute_tx_hash(tx), tx)]
        await trio.to_thread.run_sync(self.store.write_pending_txs, record)

    async def resubmit_pending(self) -> bool:
        """At start, once CometBFT runs: the recorded transactions into its mempool again;
        those refused now (committed meanwhile, expired) are forgotten. False when CometBFT
        stopped answering before each was handed over: those stay recorded, to try again."""
        refused: list[tuple[bytes, bytes | None]] = []
        recorded = await trio.to_thread.run_sync(self.store.load_pending_txs)
        for tx in recorded:
            try:
                await self.hand_over(tx)
            except NotCommitting:
                await trio.to_thread.run_sync(self.store.write_pending_txs, refused)
                return False
            except MempoolError as exc:
                log.info("recorded tx 0x%s dropped: %s", compute_tx_hash(tx).hex()[:16], exc)
                refused.append((compute_tx_hash(tx), None))
        await trio.to_thread.run_sync(self.store.write_pending_txs, refused)
        log.info("%d recorded txs handed to CometBFT, %d dropped", len(recorded) - len(refused),
                 len(refused))  # fmt: skip
        return True

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.txs_submitted.labels(result=result).inc()

    def get_state(self) -> ClearingState:
        return self.state()

    def is_pending(self, tx_hash: bytes) -> bool:
        return tx_hash in self.pending

    def get_block(self, height: int) -> StoredBlock | None:
        return self.store.load_block(height)

    def get_first_height(self) -> int:
        return self.store.first_height()

    def get_status(self) -> dict[str, object]:
        pending = self.pending
        mempool = {"txs": len(pending), "bytes": get_bytes(pending)}
        return build_status(self.chain_id, self.moniker, self.state(), mempool, self.status_extra)


def get_bytes(txs: dict[bytes, bytes]) -> int:
    return sum(map(len, txs.values()))
