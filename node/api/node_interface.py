"""What the API needs from the rest of the node, and the node-side implementation.

The API sees the node only through `NodeInterface`, so tests serve it over real
HTTP with a real mempool and a real clearing state and no network. `LocalNode`
is the implementation the running node wires up (NODE-NET's runtime passes its
mempool, its state getter, its store and its gossip publish).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from clearing.release import MIGRATIONS
from clearing.state import ClearingState
from node.api.house import get_clearing_house_status
from node.liveness import CommitWatch
from node.mempool import DuplicateTx, Mempool, MempoolError
from node.metrics import NodeMetrics
from node.storage import NodeStore, StoredBlock
from node.txpool import TxPool


class NodeInterface(Protocol):
    @property
    def chain_id(self) -> int: ...

    async def submit_tx(self, tx: bytes) -> bytes:
        """Admit `tx` (raise MempoolError, whose cause may be a clearing error); its hash.
        Once this returns, the node will propose `tx` (see docs/venue.md, "What 202 means")."""
        ...

    def get_state(self) -> ClearingState:
        """The clearing state after the latest committed block (read only)."""
        ...

    def is_pending(self, tx_hash: bytes) -> bool:
        """Whether the transaction with this hash waits in the mempool."""
        ...

    def get_block(self, height: int) -> StoredBlock | None: ...

    def get_first_height(self) -> int:
        """The first of the contiguous heights of blocks held (1 until pruned)."""
        ...

    def get_status(self) -> dict[str, object]: ...


@runtime_checkable
class ExtendedStatus(Protocol):
    """A node whose `GET /v1/status` carries sections its parts add (either engine's)."""

    status_extra: Callable[[], dict[str, object]] | None


@dataclass
class LocalNode:
    """NodeInterface over the node's own parts."""

    chain_id: int
    moniker: str
    mempool: Mempool
    state: Callable[[], ClearingState]
    store: NodeStore | None = None
    # gossip of an admitted transaction to peers (topic `tx`)
    broadcast: Callable[[bytes], Awaitable[None]] | None = None
    # extra status fields the runtime knows (peers, consensus round, validator pubkey...)
    status_extra: Callable[[], dict[str, object]] | None = None
    metrics: NodeMetrics | None = None
    # the running node's: admissions recorded on disk, refusals while it cannot commit
    pool: TxPool | None = None
    commits: CommitWatch | None = None

    def __post_init__(self) -> None:
        if self.metrics is not None:
            mempool = self.mempool
            self.metrics.watch_mempool(lambda: len(mempool), lambda: mempool.size_bytes)

    async def submit_tx(self, tx: bytes) -> bytes:
        """Admitted (and recorded, with a pool) before it returns; a transaction already
        pending answers its hash again, so a client may resubmit after a lost answer."""
        try:
            if self.commits is not None:
                self.commits.check()
            tx_hash = await self._admit(tx)
        except MempoolError as exc:
            self._count("rejected", type(exc).__name__)
            raise
        self._count("accepted", "")
        if self.broadcast is not None:
            await self.broadcast(tx)
        return tx_hash

    async def _admit(self, tx: bytes) -> bytes:
        if self.pool is not None:
            return await self.pool.add(tx)
        try:
            return self.mempool.add(tx)
        except DuplicateTx as exc:
            return exc.tx_hash

    def _count(self, result: str, _reason: str) -> None:
        if self.metrics is not None:
            self.metrics.txs_submitted.labels(result=result).inc()

    def get_state(self) -> ClearingState:
        return self.state()

    def is_pending(self, tx_hash: bytes) -> bool:
        return tx_hash in self.mempool

    def get_block(self, height: int) -> StoredBlock | None:
        return None if self.store is None else self.store.load_block(height)

    def get_first_height(self) -> int:
        return 1 if self.store is None else self.store.first_height()

    def get_status(self) -> dict[str, object]:
        mempool = {"txs": len(self.mempool), "bytes": self.mempool.size_bytes}
        return build_status(self.chain_id, self.moniker, self.state(), mempool, self.status_extra)


def get_upgrade_status(state: ClearingState) -> dict[str, object]:
    """The upgrade in place governance scheduled, with its countdown in blocks, and those
    done (clearing/upgrade.py); `release`: the upgrade this node's release starts at."""
    plan = state.upgrade_plan
    planned = None if plan is None else {
        "name": plan.name,
        "height": plan.height,
        "version": plan.version,
        "release_hash": None if plan.release_hash is None else "0x" + plan.release_hash.hex(),
        "blocks_left": get_blocks_left(state),
    }  # fmt: skip
    return {
        "planned": planned,
        "done": [{"name": d.name, "height": d.height} for d in state.upgrades_done],
        "release": MIGRATIONS[-1].name if MIGRATIONS else None,
    }


def get_blocks_left(state: ClearingState) -> int:
    """Blocks until the planned upgrade's height, from the latest committed; -1 if none."""
    plan = state.upgrade_plan
    return -1 if plan is None else plan.height - state.height


def build_status(
    chain_id: int,
    moniker: str,
    state: ClearingState,
    mempool: dict[str, int],
    status_extra: Callable[[], dict[str, object]] | None,
) -> dict[str, object]:
    """`GET /v1/status`: the node, its latest block, its mempool and the clearing house."""
    status: dict[str, object] = {
        "chain_id": chain_id,
        "moniker": moniker,
        "height": state.height,
        "time_ms": state.time_ms,
        "mempool": mempool,
        "clearing_house": get_clearing_house_status(state),
        "upgrade": get_upgrade_status(state),
    }
    if status_extra is not None:
        status.update(status_extra())
    return status
