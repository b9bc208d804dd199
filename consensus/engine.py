"""The host loop around the pure core: WAL, signer, app, store, transport, timers.

Synchronous and single-threaded: the node's trio driver (or the simulator)
calls `start()`, then `on_message`, `on_timeout` and `gossip` from one task;
the engine calls back into the `Transport` and `Timers`, which must only
enqueue. Every input is written to the WAL before it is applied, and every
own signature is fsynced there before it can leave (see `Signer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from consensus.app import Application, BlockStore, Mempool
from consensus.codec import DecodeError
from consensus.crypto import PrivateKey
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
from consensus.evidence import EvidencePool
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
from consensus.messages import (
    Message,
    Status,
    SyncRequest,
    SyncResponse,
    decode_message,
    encode_message,
)
from consensus.records import (
    WAL_KIND_HEIGHT,
    WAL_KIND_INPUT,
    LoggedInput,
    decode_record,
    encode_height_record,
    encode_input_record,
)
from consensus.signer import DoubleSignRefused, Signer
from consensus.state_machine import ConsensusState, TimeoutConfig, apply, get_gossip, initial_state
from consensus.sync import SyncRejected, verify_synced_block
from consensus.transport import PeerId, Transport
from consensus.types import (
    ZERO_HASH,
    Block,
    CommitCertificate,
    DuplicateVoteEvidence,
    Proposal,
    Validator,
    ValidatorSet,
    Vote,
)
from consensus.wal import Wal


class Timers(Protocol):
    def schedule(self, delay_ms: int, timeout: TimeoutFired) -> None:
        """Call `Engine.on_timeout(timeout)` after `delay_ms` (must not block)."""
        ...


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    validators: tuple[Validator, ...]
    state_root: bytes
    time_ms: int


@dataclass(frozen=True)
class EngineConfig:
    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    max_block_bytes: int = 8 * 1024 * 1024


@dataclass
class EngineStats:
    decode_errors: int = 0
    sync_rejected: int = 0
    refused_signatures: list[DoubleSignRefused] = field(default_factory=list)
    evidence: list[DuplicateVoteEvidence] = field(default_factory=list)


_DEFERRED_DURING_REPLAY = (Broadcast, ScheduleTimeout, RequestProposal, ValidateBlock)


class Engine:
    def __init__(
        self,
        genesis: Genesis,
        key: PrivateKey | None,
        app: Application,
        mempool: Mempool,
        store: BlockStore,
        wal: Wal,
        transport: Transport,
        timers: Timers,
        now_ms: Callable[[], int],
        config: EngineConfig = EngineConfig(),
    ) -> None:
        self.genesis = genesis
        self.app = app
        self.mempool = mempool
        self.store = store
        self.wal = wal
        self.transport = transport
        self.timers = timers
        self.now_ms = now_ms
        self.config = config
        self.signer = None if key is None else Signer(key, genesis.chain_id, wal)
        self.pool = EvidencePool()
        self.stats = EngineStats()
        genesis_set = ValidatorSet.from_validators(genesis.validators)
        own = None if key is None else key.public_key
        self.state: ConsensusState = initial_state(
            genesis.chain_id, own, genesis_set, config.timeouts
        )
        self._genesis_set = genesis_set
        self._replaying = False
        self._deferred: list[Effect] = []
        self._sync_asked: set[int] = set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Resume after the last stored block, replaying this height's WAL records."""
        height = self.store.get_height() + 1
        records = self.wal.records
        marker = max(
            (i for i, r in enumerate(records) if decode_record(r) == (WAL_KIND_HEIGHT, height)),
            default=None,
        )
        if marker is None:
            self._start_height(height)
            return
        self._replaying = True
        self._process(self._get_start_height(height))
        for record in records[marker + 1 :]:
            kind, body = decode_record(record)
            if kind == WAL_KIND_INPUT and self.state.height == height:
                self._process(body)
        self._replaying = False
        deferred, self._deferred = self._deferred, []
        for effect in deferred:
            self._execute(effect)

    @property
    def height(self) -> int:
        return self.state.height

    # ------------------------------------------------------------------ host calls

    def on_message(self, peer: PeerId, data: bytes) -> None:
        """Handle one encoded message from `peer`; malformed bytes are counted and dropped."""
        try:
            message = decode_message(data)
        except DecodeError:
            self.stats.decode_errors += 1
            return
        self._dispatch(peer, message)

    def on_timeout(self, timeout: TimeoutFired) -> None:
        self._process(timeout)

    def gossip(self) -> None:
        """Re-send our height's messages and status (call periodically)."""
        self._sync_asked.clear()
        self.transport.broadcast(encode_message(Status(self.state.height)))
        for message in get_gossip(self.state):
            self.transport.broadcast(encode_message(message))

    # ------------------------------------------------------------------ internals

    def _dispatch(self, peer: PeerId, message: Message) -> None:
        if isinstance(message, Proposal | Vote):
            if message.height == self.state.height:
                inp = (
                    ProposalReceived(message)
                    if isinstance(message, Proposal)
                    else VoteReceived(message)
                )
                self._process(inp)
            elif message.height > self.state.height:
                self._ask_sync(peer)
            else:
                self._serve_sync(peer, message.height)
        elif isinstance(message, Status):
            if message.height > self.state.height:
                self._ask_sync(peer)
        elif isinstance(message, SyncRequest):
            self._serve_sync(peer, message.height)
        else:
            self._apply_synced(message)

    def _ask_sync(self, peer: PeerId) -> None:
        if self.state.height not in self._sync_asked:
            self._sync_asked.add(self.state.height)
            self.transport.send(peer, encode_message(SyncRequest(self.state.height)))

    def _serve_sync(self, peer: PeerId, height: int) -> None:
        found = self.store.get_block(height)
        if found is not None:
            self.transport.send(peer, encode_message(SyncResponse(*found)))

    def _apply_synced(self, response: SyncResponse) -> None:
        s = self.state
        try:
            verify_synced_block(
                s.chain_id,
                s.validators,
                s.height,
                s.prev_block_hash,
                response.block,
                response.certificate,
            )
        except SyncRejected:
            self.stats.sync_rejected += 1
            return
        self._commit(response.block, response.certificate)

    def _process(self, inp: Input) -> None:
        if not self._replaying and isinstance(
            inp, ProposalReceived | VoteReceived | TimeoutFired | BlockPrepared | BlockValidated
        ):
            self.wal.append(encode_input_record(_as_logged(inp)))
        self.state, effects = apply(self.state, inp)
        for effect in effects:
            if self._replaying and isinstance(effect, _DEFERRED_DURING_REPLAY):
                self._deferred.append(effect)
            else:
                self._execute(effect)

    def _execute(self, effect: Effect) -> None:
        if isinstance(effect, SignVote | SignProposal):
            self._sign(effect)
        elif isinstance(effect, Broadcast):
            self.transport.broadcast(encode_message(effect.message))
        elif isinstance(effect, ScheduleTimeout):
            timeout = TimeoutFired(effect.height, effect.round, effect.step)
            self.timers.schedule(effect.duration_ms, timeout)
        elif isinstance(effect, RequestProposal):
            self._prepare(effect)
        elif isinstance(effect, ValidateBlock):
            valid = self.app.process_proposal(effect.block)
            self._process(BlockValidated(effect.block.height, effect.block.hash, valid))
        elif isinstance(effect, Commit):
            self._commit(effect.block, effect.certificate)
        elif isinstance(effect, EvidenceFound):
            self.stats.evidence.append(effect.evidence)
            self.pool.add(effect.evidence)

    def _sign(self, effect: SignVote | SignProposal) -> None:
        assert self.signer is not None, "the core asks only validators to sign"
        try:
            if isinstance(effect, SignVote):
                self._process(VoteSigned(self.signer.sign_vote(effect.vote)))
            else:
                self._process(ProposalSigned(self.signer.sign_proposal(effect.proposal)))
        except DoubleSignRefused as exc:
            self.stats.refused_signatures.append(exc)

    def _prepare(self, effect: RequestProposal) -> None:
        time_ms = self.now_ms()
        candidates = self.mempool.reap(self.config.max_block_bytes)
        txs = tuple(self.app.prepare_proposal(effect.height, time_ms, candidates))
        evidence = self.pool.get_pending(effect.height)
        self._process(BlockPrepared(effect.height, effect.round, time_ms, txs, evidence))

    def _commit(self, block: Block, certificate: CommitCertificate) -> None:
        """Finalize, store durably, then start the next height (in that order)."""
        state_root = self.app.finalize_block(block)
        self.store.save_block(block, certificate, state_root)
        self.mempool.remove_committed(block.txs)
        self.pool.process_committed_block(block)
        self._start_height(block.height + 1)

    def _start_height(self, height: int) -> None:
        self.wal.append(encode_height_record(height))
        if self.signer is not None:
            self.signer.prune_below(height)
        self._process(self._get_start_height(height))

    def _get_start_height(self, height: int) -> StartHeight:
        if self.state.height == height - 1 and self.state.height > 0:
            validators = self.state.validators.next_height()
        else:
            validators = self._genesis_set
            for _ in range(height - 1):
                validators = validators.next_height()
        if height == 1:
            g = self.genesis
            return StartHeight(1, validators, ZERO_HASH, g.state_root, g.time_ms, None)
        found = self.store.get_block(height - 1)
        assert found is not None, f"block {height - 1} must be stored before height {height}"
        block, certificate = found
        return StartHeight(
            height,
            validators,
            block.hash,
            self.store.get_state_root(height - 1),
            block.header.time_ms,
            certificate,
        )


def _as_logged(inp: Input) -> LoggedInput:
    assert isinstance(
        inp, ProposalReceived | VoteReceived | TimeoutFired | BlockPrepared | BlockValidated
    )
    return inp
