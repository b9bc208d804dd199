"""Each stored block's CometBFT header and commit, fetched from CometBFT once it has them:
what a report's anchor is made of on a CometBFT network (node/reports/anchor.py).

The app stores a block at ABCI's Commit, before CometBFT has the commit of it (its
precommits arrive with the next height), so the keeper fetches each block's signed
header from CometBFT's RPC once the next block is stored, and at start the ones a stop
left unfetched. By then CometBFT answers with the canonical commit, the one the next
block carries, which every node stores alike (a state-sync snapshot carries its block's
signed header: node/cometbft/snapshots.py), not the precommits this node happened to
see. A fetch that fails (CometBFT starting) is tried again at the next commit.
"""

from __future__ import annotations

import logging

import trio

from node.cometbft.rpc import CometRpc, CometRpcError
from node.storage import NodeStore

log = logging.getLogger(__name__)


class SignedHeaderKeeper:
    def __init__(self, rpc: CometRpc, store: NodeStore) -> None:
        self.rpc = rpc
        self.store = store
        self.committed = trio.Event()
        self.kept_up_to = 0

    def on_commit(self) -> None:
        """A block was stored: its signed header (and any missing before it) is due."""
        self.committed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self.fetch_missing()
            await self.committed.wait()
            self.committed = trio.Event()

    def read_missing(self) -> tuple[list[int], int]:
        """The stored heights past `kept_up_to` without a signed header, and the tip (off
        the event loop: a block's write may hold the store)."""
        return self.store.get_heights_without_cert(self.kept_up_to), self.store.latest_height()

    async def fetch_missing(self) -> None:
        """Every stored block below the tip without its signed header, oldest first, until
        one is not to be had yet."""
        missing, tip = await trio.to_thread.run_sync(self.read_missing)
        for height in missing:
            if height >= tip:  # its canonical commit comes with the next block
                return
            try:
                signed = await self.rpc.get_signed_header(height)
            except CometRpcError as exc:
                log.debug("signed header of block %d not fetched yet: %s", height, exc)
                return
            await trio.to_thread.run_sync(self.store.save_cert, height, signed.encode())
            self.kept_up_to = height
