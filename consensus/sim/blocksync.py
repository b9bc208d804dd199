"""How a simulated node catches up: block sync over the simulated network, as a real
node's `node.engine.consensus_loop.catch_up` does over request streams.

A node syncs when the engine reports a message from too far ahead (`on_behind`), or
when a peer's messages show it is stuck behind (`consensus.sync.BehindWatch`, with
one regossip interval of patience). It asks that peer for its blocks from the
next height on, applies them in order with `Engine.apply_synced_block` (a block that
fails verification ends the answer and is counted) and asks again while the peer
has more; then consensus resumes at the new tip (`Engine.start`), as
`node.engine.driver.Driver.sync_blocks` does. Meanwhile the node drops consensus messages,
as the driver does. A request whose answer is not back within `timeout_ms` was
lost: the node gives up and syncs again when the next message shows it behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from consensus.engine import Engine
from consensus.messages import Message
from consensus.sim.memory import MemoryBlockStore
from consensus.sync import BehindWatch, SyncRejected
from consensus.transport import PeerId
from consensus.types import Block, CommitCertificate

MAX_BLOCKS_PER_ANSWER = 4
"""Small, so catching up a few heights takes more than one round trip."""


@dataclass(frozen=True)
class BlocksAnswer:
    """A peer's committed blocks from the height asked for, and its own height."""

    tip: int
    blocks: tuple[tuple[Block, CommitCertificate], ...]


def get_blocks_answer(store: MemoryBlockStore, from_height: int) -> BlocksAnswer:
    last = min(store.get_height(), from_height + MAX_BLOCKS_PER_ANSWER - 1)
    blocks = tuple(store.blocks[h - 1][:2] for h in range(from_height, last + 1))
    return BlocksAnswer(store.get_height(), blocks)


@dataclass
class SyncStats:
    """What a node's block sync did, over all its restarts."""

    applied: int = 0
    rejected: int = 0
    lost: int = 0


RequestBlocks = Callable[[PeerId, int, Callable[[BlocksAnswer], None]], None]
"""(peer, from_height, on_answer): send a request; the answer may never come."""
Schedule = Callable[[int, Callable[[], None]], None]


@dataclass
class BlockSync:
    """One running sim node's catching up (a restart starts a new one, as a node process)."""

    engine: Engine
    store: MemoryBlockStore
    request_blocks: RequestBlocks
    schedule: Schedule
    now_ms: Callable[[], int]
    timeout_ms: int
    stats: SyncStats
    syncing: bool = False
    _watch: BehindWatch = field(init=False)
    _request: int = 0
    _applied_before: int = 0

    def __post_init__(self) -> None:
        self._watch = BehindWatch(self.engine.config.regossip_ms)

    def record_commit(self) -> None:
        self._watch.record_commit()

    def admit(self, peer: PeerId, message: Message) -> bool:
        """Whether consensus gets `message`: not while syncing, nor once it shows we are stuck
        behind a peer."""
        self._watch.observe(peer, message.height)
        return not self.syncing and not self._sync_if_stuck()

    def _sync_if_stuck(self) -> bool:
        """Sync when stuck behind a peer; a wait that starts now is looked at again when due
        (the peers may send nothing meanwhile: they wait for us)."""
        waiting = self._watch.behind_since_ms is not None
        peer = self._watch.get_peer_to_sync(self.store.get_height(), self.now_ms())
        if peer is not None:
            self.sync_from(peer)
            return True
        if not waiting and self._watch.behind_since_ms is not None:
            self.schedule(self._watch.patience_ms, self._look_again)
        return False

    def _look_again(self) -> None:
        if not self.syncing:
            self._sync_if_stuck()

    def on_behind(self, peer: PeerId, height: int) -> None:
        self.sync_from(peer)

    def sync_from(self, peer: PeerId) -> None:
        if not self.syncing:
            self.syncing = True
            self._applied_before = self.stats.applied
            self._ask(peer)

    def _ask(self, peer: PeerId) -> None:
        self._request += 1
        request = self._request
        self.request_blocks(
            peer, self.store.get_height() + 1, lambda answer: self._on_answer(request, peer, answer)
        )
        self.schedule(self.timeout_ms, lambda: self._on_timeout(request))

    def _on_answer(self, request: int, peer: PeerId, answer: BlocksAnswer) -> None:
        if not self.syncing or request != self._request:
            return  # given up on
        for block, certificate in answer.blocks:
            if block.height <= self.store.get_height():
                continue  # committed here meanwhile (a buffered message, a timer)
            try:
                self.engine.apply_synced_block(block, certificate)
            except SyncRejected:
                self.stats.rejected += 1
                self._finish()
                return
            self.stats.applied += 1
        if answer.blocks and answer.tip > self.store.get_height():
            self._ask(peer)
        else:
            self._finish()

    def _on_timeout(self, request: int) -> None:
        if self.syncing and request == self._request:
            self.stats.lost += 1
            self._finish()

    def _finish(self) -> None:
        self.syncing = False
        if self.stats.applied > self._applied_before:
            self.engine.start()  # consensus resumes after the synced blocks
