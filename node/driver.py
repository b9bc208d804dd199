"""Runs the pure consensus core (`consensus.state_machine.apply`) in trio.

The driver owns one inbox of consensus inputs and processes them one at a time:
log the input to the WAL, apply it, execute the effects in order. Signing goes
through the signer guard (WAL + fsync before a signature leaves the node),
timeouts are trio tasks that feed `TimeoutFired`, the app answers
`RequestProposal` / `ValidateBlock` / `Commit`, and broadcasts go to a
non-blocking `publish` function (the p2p `consensus` topic in a node).

Messages for the next heights arriving before we commit are buffered and
replayed at `StartHeight`; messages from further ahead mean we are behind, and
`on_behind` lets the runtime catch up by block sync (`sync_blocks`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio

from consensus.app import Application, BlockStore
from consensus.effects import (
    Broadcast,
    Commit,
    Effect,
    EvidenceFound,
    RequestProposal,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    ValidateBlock,
)
from consensus.inputs import (
    BlockPrepared,
    BlockValidated,
    Input,
    ProposalReceived,
    ProposalSigned,
    StartHeight,
    TimeoutFired,
    VoteReceived,
    VoteSigned,
)
from consensus.messages import encode_message
from consensus.records import (
    WAL_KIND_HEIGHT,
    WAL_KIND_INPUT,
    decode_record,
    encode_height_record,
    encode_input_record,
)
from consensus.signer import Signer
from consensus.state_machine import ConsensusState, TimeoutConfig, apply, get_gossip, initial_state
from consensus.types import (
    ZERO_HASH,
    Block,
    CommitCertificate,
    DuplicateVoteEvidence,
    Proposal,
    ValidatorSet,
    Vote,
)
from consensus.wal import Wal

log = logging.getLogger(__name__)

LOGGED_INPUTS = (ProposalReceived, VoteReceived, TimeoutFired, BlockPrepared, BlockValidated)
FUTURE_HEIGHTS = 2
"""Messages up to this many heights ahead are buffered; beyond, we are behind."""
MAX_BUFFERED = 4096


class Mempool(Protocol):
    def __len__(self) -> int: ...

    def reap(self, max_bytes: int) -> Sequence[bytes]: ...

    def update(self, included: Sequence[bytes]) -> object: ...


@dataclass(frozen=True)
class DriverConfig:
    chain_id: str
    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    block_interval_ms: int = 20
    """Pause after a commit before the next height."""
    empty_block_wait_ms: int = 1000
    """A proposer with an empty mempool waits up to this long for a transaction (idle
    networks do not spin through empty heights); keep it below the propose timeout."""
    max_block_bytes: int = 4 * 1024 * 1024
    regossip_s: float = 1.0
    """A height stuck this long re-broadcasts its proposal and votes."""


@dataclass(frozen=True)
class Genesis:
    """What height 1 builds on."""

    validators: ValidatorSet
    state_root: bytes
    time_ms: int


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Driver:
    """One validator (with a signer) or full node (without) following the chain."""

    def __init__(
        self,
        config: DriverConfig,
        genesis: Genesis,
        app: Application,
        store: BlockStore,
        mempool: Mempool,
        publish: Callable[[bytes], None],
        signer: Signer | None = None,
        wal: Wal | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        on_commit: Callable[[Block, CommitCertificate, bytes], None] | None = None,
        on_behind: Callable[[int], None] | None = None,
    ) -> None:
        self.config = config
        self.genesis = genesis
        self.app = app
        self.store = store
        self.mempool = mempool
        self.publish = publish
        self.signer = signer
        self.wal = wal
        self.clock_ms = clock_ms
        self.on_commit = on_commit
        self.on_behind = on_behind
        own_key = None if signer is None else signer.key.public_key
        self.state: ConsensusState = initial_state(
            config.chain_id, own_key, genesis.validators, config.timeouts
        )
        self._validator_sets = [genesis.validators]
        self._future: deque[Proposal | Vote] = deque(maxlen=MAX_BUFFERED)
        self._evidence: dict[bytes, DuplicateVoteEvidence] = {}
        self._send, self._inbox = trio.open_memory_channel[Input](MAX_BUFFERED)
        self._nursery: trio.Nursery | None = None
        self.syncing = False
        self.progress = trio.Event()
        """Set (and replaced) at every commit."""

    # -- inputs from outside ---------------------------------------------------

    def deliver(self, message: Proposal | Vote) -> None:
        """A consensus message from a peer; never blocks (drops when the inbox is full)."""
        current = self.state.height
        if message.height < current or self.syncing:
            return
        if message.height == current and not self.state.decided:
            inp: Input = (
                ProposalReceived(message)
                if isinstance(message, Proposal)
                else VoteReceived(message)
            )
            self._offer(inp)
        elif message.height <= current + FUTURE_HEIGHTS:
            self._future.append(message)
        elif self.on_behind is not None:
            self.on_behind(message.height)

    def _offer(self, inp: Input) -> None:
        try:
            self._send.send_nowait(inp)
        except trio.WouldBlock:
            log.warning("consensus inbox full; dropping %s", type(inp).__name__)

    # -- the loop ---------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Starts the height after the store's tip (replaying the WAL) and runs until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._start_height(self.store.get_height() + 1, replay=True)
            nursery.start_soon(self._regossip)
            task_status.started()
            async for inp in self._inbox:
                self._process(inp)

    def _process(self, first: Input, log_inputs: bool = True) -> None:
        """Applies `first` and every input its effects produce, in order."""
        pending: deque[Input] = deque([first])
        while pending:
            inp = pending.popleft()
            if log_inputs and self.wal is not None and isinstance(inp, LOGGED_INPUTS):
                self.wal.append(encode_input_record(inp))
            self.state, effects = apply(self.state, inp)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "h%d r%d %s -> %s",
                    self.state.height,
                    self.state.round,
                    type(inp).__name__,
                    [type(e).__name__ for e in effects],
                )
            for effect in effects:
                pending.extend(self._execute(effect))

    def _execute(self, effect: Effect) -> list[Input]:
        """Runs one effect; returns the inputs it answers with."""
        if isinstance(effect, SignVote):
            return [] if self.signer is None else [VoteSigned(self.signer.sign_vote(effect.vote))]
        if isinstance(effect, SignProposal):
            if self.signer is None:
                return []
            return [ProposalSigned(self.signer.sign_proposal(effect.proposal))]
        if isinstance(effect, Broadcast):
            self.publish(encode_message(effect.message))
        elif isinstance(effect, ScheduleTimeout):
            assert self._nursery is not None
            self._nursery.start_soon(self._timer, effect)
        elif isinstance(effect, RequestProposal):
            if len(self.mempool) or self.config.empty_block_wait_ms <= 0:
                return [self._prepare(effect)]
            assert self._nursery is not None
            self._nursery.start_soon(self._prepare_when_busy, effect)
        elif isinstance(effect, ValidateBlock):
            block = effect.block
            return [BlockValidated(block.height, block.hash, self.app.process_proposal(block))]
        elif isinstance(effect, Commit):
            self._commit(effect.block, effect.certificate)
        elif isinstance(effect, EvidenceFound):
            self._evidence[effect.evidence.hash] = effect.evidence
        return []

    def _prepare(self, request: RequestProposal) -> BlockPrepared:
        time_ms = max(self.clock_ms(), self.state.prev_time_ms + 1)
        candidates = self.mempool.reap(self.config.max_block_bytes)
        txs = self.app.prepare_proposal(request.height, time_ms, candidates)
        evidence = tuple(e for e in self._evidence.values() if e.height < request.height)
        return BlockPrepared(request.height, request.round, time_ms, tuple(txs), evidence)

    async def _prepare_when_busy(self, request: RequestProposal) -> None:
        """Proposes once a transaction arrives, or empty after `empty_block_wait_ms`."""
        with trio.move_on_after(self.config.empty_block_wait_ms / 1000):
            while not len(self.mempool):
                await trio.sleep(0.01)  # the mempool has no arrival event to wait on
        if (self.state.height, self.state.round) == (request.height, request.round):
            self._offer(self._prepare(request))

    async def _timer(self, timeout: ScheduleTimeout) -> None:
        await trio.sleep(timeout.duration_ms / 1000)
        self._offer(TimeoutFired(timeout.height, timeout.round, timeout.step))

    # -- heights ----------------------------------------------------------------

    def get_validators(self, height: int) -> ValidatorSet:
        """The validator set of `height`: advanced one height at a time, as every peer does."""
        while len(self._validator_sets) < height:
            self._validator_sets.append(self._validator_sets[-1].next_height())
        return self._validator_sets[height - 1]

    def _commit(self, block: Block, certificate: CommitCertificate) -> None:
        """Apply, persist, then schedule the next height (the core ignores inputs until then)."""
        root = self.app.finalize_block(block)
        self.store.save_block(block, certificate, root)
        self.mempool.update(block.txs)
        log.info(
            "committed height %d round %d: %d txs, root %s",
            block.height,
            certificate.round,
            len(block.txs),
            root.hex()[:16],
        )
        for evidence in block.evidence:
            self._evidence.pop(evidence.hash, None)
        self._notify_commit(block, certificate, root)
        assert self._nursery is not None
        self._nursery.start_soon(self._start_after_pause, block.height + 1)

    def _notify_commit(self, block: Block, certificate: CommitCertificate, root: bytes) -> None:
        if self.on_commit is not None:
            self.on_commit(block, certificate, root)
        self.progress.set()
        self.progress = trio.Event()

    async def _start_after_pause(self, height: int) -> None:
        await trio.sleep(self.config.block_interval_ms / 1000)
        if self.store.get_height() == height - 1 and self.state.height == height - 1:
            self._start_height(height, replay=False)

    def _start_height(self, height: int, replay: bool) -> None:
        """StartHeight on top of the stored chain, then the WAL's and the buffered inputs."""
        previous = self.store.get_block(height - 1) if height > 1 else None
        if previous is None:
            prev_hash, prev_time, last_commit = ZERO_HASH, self.genesis.time_ms, None
        else:
            prev_hash, prev_time, last_commit = (
                previous[0].hash,
                previous[0].header.time_ms,
                previous[1],
            )
        prev_root = self.store.get_state_root(height - 1)
        if self.wal is not None:
            self.wal.append(encode_height_record(height), sync=True)
        if self.signer is not None:
            self.signer.prune_below(height)
        start = StartHeight(
            height, self.get_validators(height), prev_hash, prev_root, prev_time, last_commit
        )
        self._process(start)
        if replay:
            self._replay_wal(height)
        buffered, self._future = list(self._future), deque(maxlen=MAX_BUFFERED)
        for message in buffered:
            self.deliver(message)

    def _replay_wal(self, height: int) -> None:
        """Re-applies the inputs logged at `height` before a crash (locks and votes come back)."""
        assert self.wal is not None
        inputs: list[Input] = []
        collecting = False
        for record in self.wal.records:
            kind, body = decode_record(record)
            if kind == WAL_KIND_HEIGHT:
                collecting = body == height
                inputs = [] if collecting else inputs
            elif kind == WAL_KIND_INPUT and collecting:
                inputs.append(body)
        if inputs:
            log.info("replaying %d WAL inputs at height %d", len(inputs), height)
        for inp in inputs:
            self._process(inp, log_inputs=False)

    async def _regossip(self) -> None:
        """Re-broadcasts this height's messages while it does not move (lost gossip)."""
        seen = (self.state.height, self.state.round)
        while True:
            await trio.sleep(self.config.regossip_s)
            now = (self.state.height, self.state.round)
            if now == seen and not self.state.decided and not self.syncing:
                for message in get_gossip(self.state):
                    self.publish(encode_message(message))
            seen = now

    # -- catching up ------------------------------------------------------------

    async def sync_blocks(
        self, fetch: Callable[[int, Callable[[Block, CommitCertificate], None]], Awaitable[None]]
    ) -> int:
        """Pauses consensus while `fetch` applies certified blocks from the next height on.

        `fetch(next_height, apply)` calls `apply(block, certificate)` for each block
        in order; `apply` verifies it (consensus.sync) before the app sees it.
        Returns the number of blocks applied; consensus resumes at the new tip.
        """
        from consensus.sync import verify_synced_block

        start = self.store.get_height()
        self.syncing = True

        def apply_synced(block: Block, certificate: CommitCertificate) -> None:
            height = self.store.get_height() + 1
            previous = self.store.get_block(height - 1)
            prev_hash = ZERO_HASH if previous is None else previous[0].hash
            verify_synced_block(
                self.config.chain_id,
                self.get_validators(height),
                height,
                prev_hash,
                block,
                certificate,
            )
            root = self.app.finalize_block(block)
            self.store.save_block(block, certificate, root)
            self.mempool.update(block.txs)
            self._notify_commit(block, certificate, root)

        try:
            await fetch(start + 1, apply_synced)
        finally:
            self.syncing = False
        applied = self.store.get_height() - start
        if applied:
            log.info("synced %d blocks to height %d", applied, self.store.get_height())
            self._future.clear()
            self._start_height(self.store.get_height() + 1, replay=True)
        return applied
