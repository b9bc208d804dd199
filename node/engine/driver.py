"""Runs the consensus host loop (`consensus.engine.Engine`) in trio.

The engine does the work (WAL, signer guard, app, store, buffering of
future-height messages, empty-block wait, regossip, sync verification); this
adapter gives it a trio world: an inbox task feeds it peers' messages, timers
are trio tasks in the driver's nursery calling `on_timeout`, and broadcasts go
to a non-blocking `transport` (the p2p `consensus` topic's `Publisher` in a node). Engine calls
are synchronous, so they never interleave. Messages from far ahead mean we are
behind: `on_behind` lets the runtime catch up by block sync (`sync_blocks`),
during which consensus pauses. Proposals travel compact (`consensus.compact`): what a
received one names and this node lacks is fetched by a task (`fetch_txs`, from the
peer that published it first), or arrives meanwhile by gossip (`offer_tx`). A proposal
a vote showed this node lacks is asked of the voter by a task (`fetch_proposal`), the
commit certificate of a height a peer moved past of that peer (`fetch_commit`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import trio

from clearing.limits import MAX_BLOCK_BYTES, MAX_BLOCK_TXS
from consensus.application import Application
from consensus.block_store import BlockStore
from consensus.compact import CompactProposal
from consensus.engine import Engine
from consensus.engine_config import ChainStart, EngineConfig
from consensus.engine_timeouts import EngineTimeout
from consensus.mempool import EngineMempool
from consensus.messages import Message
from consensus.proposal_times import OnProposalTime
from consensus.signer import Signer
from consensus.state_machine import ConsensusState, TimeoutConfig
from consensus.transport import PeerId, Transport
from consensus.types import Block, CommitCertificate
from consensus.wal import MemoryWalStorage, Wal
from lightclient.anchor import OUR_ENGINE
from node.clock import wall_clock_ms
from node.config import ENGINE_TIMEOUTS
from node.worktime import CONSENSUS, WorkTime

log = logging.getLogger(__name__)

MAX_BUFFERED = 4096
GOSSIP_PEER: PeerId = "gossip"
"""The sender named for a message whose publisher is not known (the sync loop's watch of
the peers' heights, a test's messages); a gossiped one names its publisher
(`Delivery.sender`), which the engine's repairs ask (consensus.repair)."""


FetchTxs = Callable[[PeerId, tuple[bytes, ...]], Awaitable[Sequence[bytes]]]
"""(peer that published the proposal, ids): what peers answered of those transactions."""
FetchProposal = Callable[[PeerId, int, int], Awaitable[Message | None]]
"""(voter, height, round): the proposal the voter answered, None if it had none."""
FetchCommit = Callable[[PeerId, int], Awaitable[CommitCertificate | None]]
"""(peer, height): the commit certificate the peer answered, None if it had none."""


@dataclass(frozen=True)
class DriverConfig:
    chain_id: str
    timeouts: TimeoutConfig = ENGINE_TIMEOUTS[OUR_ENGINE]
    """A node's come from its config (node.config.get_timeouts); by default our engine's."""
    max_block_bytes: int = MAX_BLOCK_BYTES
    max_block_txs: int = MAX_BLOCK_TXS
    regossip_s: float = 1.0
    """A height stuck this long re-broadcasts its proposal and votes."""
    compact_proposals: bool = True
    """Proposals name the transactions the mempool holds by their ids (consensus.compact)."""
    txs_noticed: bool = False
    """The mempool calls `notice_txs` at each admission, so a waiting proposer need not
    poll it (EngineConfig.txs_noticed); a node's TxPool does (node/engine/runtime.py)."""

    def get_engine_config(self) -> EngineConfig:
        return EngineConfig(
            timeouts=self.timeouts,
            txs_noticed=self.txs_noticed,
            max_block_bytes=self.max_block_bytes,
            max_block_txs=self.max_block_txs,
            regossip_ms=round(self.regossip_s * 1000),
            regossip_moving=False,
            max_buffered=MAX_BUFFERED,
            compact_proposals=self.compact_proposals,
        )


class Driver:
    """One validator (with a signer) or full node (without) following the chain."""

    def __init__(
        self,
        config: DriverConfig,
        start: ChainStart,
        app: Application,
        store: BlockStore,
        mempool: EngineMempool,
        transport: Transport,
        signer: Signer | None = None,
        wal: Wal | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        on_commit: Callable[[Block, CommitCertificate, bytes], None] | None = None,
        on_behind: Callable[[int], None] | None = None,
        work: WorkTime | None = None,
        on_step: Callable[[str, float], None] | None = None,
        on_proposal_time: OnProposalTime | None = None,
    ) -> None:
        """`on_step(step, seconds)` hears how long each step of a round took (see
        `_observe_steps`), `on_proposal_time` how far ahead of this node's clock each
        round's proposal came (the engine's); until the sync loop sets `fetch_txs`, a
        compact proposal naming transactions this node lacks waits for them to arrive by
        gossip, and a proposal or a commit it lacks for its re-gossip or block sync
        (`fetch_proposal`, `fetch_commit`)."""
        self.config = config
        self.work = WorkTime() if work is None else work
        self.on_step = on_step
        self.fetch_txs: FetchTxs | None = None
        self.fetch_proposal: FetchProposal | None = None
        self.fetch_commit: FetchCommit | None = None
        self._fetching: set[tuple[int, int, bytes, PeerId]] = set()
        self._step: tuple[tuple[int, int, str], float] | None = None
        self.store = store
        self.on_commit = on_commit
        self.on_behind = on_behind
        self.engine = Engine(
            start,
            None,
            app,
            mempool,
            store,
            Wal(MemoryWalStorage()) if wal is None else wal,
            transport,
            self,
            clock_ms,
            config.get_engine_config(),
            signer=signer,
            on_commit=self._notify_commit,
            on_behind=self._notify_behind,
            on_missing_txs=self._fetch_missing,
            on_missing_proposal=self._ask_for_proposal,
            on_missing_commit=self._ask_for_commit,
            on_proposal_time=on_proposal_time,
        )
        self._send, self._inbox = trio.open_memory_channel[tuple[PeerId, Message]](MAX_BUFFERED)
        self._nursery: trio.Nursery | None = None
        self.syncing = False
        self.progress = trio.Event()
        """Set (and replaced) at every commit."""

    @property
    def state(self) -> ConsensusState:
        return self.engine.state

    # -- inputs from outside ---------------------------------------------------

    def deliver(self, message: Message, sender: PeerId = GOSSIP_PEER) -> None:
        """A consensus message from a peer (`sender`: the node that published it); never
        blocks (drops when the inbox is full)."""
        if self._is_wanted(message):
            self._offer(sender, message)

    def _is_wanted(self, message: Message) -> bool:
        """Not while syncing, nor from a finished height (peers sync over request streams)."""
        return not self.syncing and message.height >= self.engine.height

    def _offer(self, sender: PeerId, message: Message) -> None:
        try:
            self._send.send_nowait((sender, message))
        except trio.WouldBlock:
            log.warning("consensus inbox full; dropping %s", type(message).__name__)

    def offer_tx(self, tx: bytes) -> None:
        """A transaction that just arrived (gossip): a compact proposal may wait for it."""
        if self.engine.awaiting_txs and not self.syncing:
            self._call(functools.partial(self.engine.add_txs, [tx]))

    def notice_txs(self) -> None:
        """The mempool admitted a transaction (`DriverConfig.txs_noticed`): only requests
        a timer, so the mempool may call it from anywhere, an engine call included."""
        self.engine.notice_txs()

    def _fetch_missing(self, peer: PeerId, compact: CompactProposal, missing: tuple[bytes, ...]
                       ) -> None:  # fmt: skip
        """The engine's `on_missing_txs`: one fetch task per proposal and peer at a time (a
        re-gossip of the proposal while one runs asks nothing more; a voter for it asked
        while its proposer's node does not answer is asked meanwhile)."""
        key = (compact.height, compact.round, compact.block_hash, peer)
        if self.fetch_txs is None or self._nursery is None or key in self._fetching:
            return
        self._fetching.add(key)
        self._nursery.start_soon(self._fetch, key, peer, missing)

    async def _fetch(
        self, key: tuple[int, int, bytes, PeerId], peer: PeerId, missing: tuple[bytes, ...]
    ) -> None:
        assert self.fetch_txs is not None
        try:
            txs = await self.fetch_txs(peer, missing)
        finally:
            self._fetching.discard(key)
        if txs and self.engine.height == key[0] and not self.syncing:
            self._call(functools.partial(self.engine.add_txs, txs))

    def _ask_for_proposal(self, voter: PeerId, height: int, round_: int) -> None:
        """The engine's `on_missing_proposal` (a few a height at most): a task asks the
        voter, and the answer comes in as the proposal's gossip would."""
        if self.fetch_proposal is not None and self._nursery is not None:
            self._nursery.start_soon(self._fetch_proposal, voter, height, round_)

    async def _fetch_proposal(self, voter: PeerId, height: int, round_: int) -> None:
        assert self.fetch_proposal is not None
        proposal = await self.fetch_proposal(voter, height, round_)
        if proposal is not None:
            self.deliver(proposal, voter)

    def _ask_for_commit(self, peer: PeerId, height: int) -> None:
        """The engine's `on_missing_commit` (once a height): a task asks the peer, and
        the answer goes to the engine unless it moved on meanwhile."""
        if self.fetch_commit is not None and self._nursery is not None:
            self._nursery.start_soon(self._fetch_commit, peer, height)

    async def _fetch_commit(self, peer: PeerId, height: int) -> None:
        assert self.fetch_commit is not None
        certificate = await self.fetch_commit(peer, height)
        if certificate is not None and self.engine.height == height and not self.syncing:
            self._call(functools.partial(self.engine.add_commit, peer, certificate))

    def schedule(self, delay_ms: int, timeout: EngineTimeout) -> None:
        """The engine's Timers: a task in the driver's nursery."""
        assert self._nursery is not None, "timers run once the driver runs"
        self._nursery.start_soon(self._fire, delay_ms, timeout)

    async def _fire(self, delay_ms: int, timeout: EngineTimeout) -> None:
        """Calls the engine itself: a timeout is never dropped behind a full inbox."""
        await trio.sleep(delay_ms / 1000)
        self._call(functools.partial(self.engine.on_timeout, timeout))

    def _call(self, call: Callable[[], None]) -> None:
        """One engine call, its time measured and the steps it moved observed."""
        started = time.perf_counter()
        with self.work.measure(CONSENSUS):
            call()
        self._observe_steps(started)

    def _observe_steps(self, at: float) -> None:
        """Where a height's time goes, for `on_step`: `propose` from the round's start to
        this node's prevote (waiting for the proposal and checking it), `prevote` to its
        precommit (waiting for +2/3 prevotes), `precommit` to the decision (waiting for
        +2/3 precommits), `commit` from the decision to the next height (applying and
        storing the block, then the pause between heights). A step ends when the engine
        call that left it began."""
        state = self.engine.state
        step = "commit" if state.decided else state.step.name.lower()
        now = (state.height, state.round, step)
        if self._step is None or self._step[0] == now:
            self._step = self._step or (now, at)
            return
        (_, _, left), since = self._step
        if self.on_step is not None:
            self.on_step(left, at - since)
        self._step = (now, at)

    # -- the loop ---------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Starts the height after the store's tip (replaying the WAL) and runs until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._call(self.engine.start)
            task_status.started()
            async for sender, message in self._inbox:
                if self._is_wanted(message):
                    self._call(functools.partial(self.engine.receive, sender, message))

    def _notify_commit(self, block: Block, certificate: CommitCertificate, root: bytes) -> None:
        if self.on_commit is not None:
            self.on_commit(block, certificate, root)
        self.progress.set()
        self.progress = trio.Event()

    def _notify_behind(self, peer: PeerId, height: int) -> None:
        if self.on_behind is not None:
            self.on_behind(height)

    # -- catching up ------------------------------------------------------------

    async def sync_blocks(
        self, fetch: Callable[[int, Callable[[Block, CommitCertificate], None]], Awaitable[None]]
    ) -> int:
        """Pauses consensus while `fetch` applies certified blocks from the next height on.

        `fetch(next_height, apply)` calls `apply(block, certificate)` for each block
        in order; `apply` verifies it (consensus.sync) before the app sees it.
        Returns the number of blocks applied; consensus resumes at the new tip.
        """
        start = self.store.get_height()
        self.syncing = True
        try:
            await fetch(start + 1, self.engine.apply_synced_block)
        finally:
            self.syncing = False
        applied = self.store.get_height() - start
        if applied:
            log.info("synced %d blocks to height %d", applied, self.store.get_height())
            if self._nursery is not None:
                self._call(self.engine.start)
        return applied
