"""The host loop around the pure core: WAL, signer, app, store, transport, timers.

Synchronous and single-threaded: the node's trio driver (or the simulator)
calls `start()`, then `receive`/`on_message`, `on_timeout` and
`apply_synced_block`, one call at a time; the engine calls back into the `Transport`
and `Timers`, which must only enqueue. Every input is written to the WAL before
it is applied, and every own signature is fsynced there before it can leave
(see `Signer`).

Messages for the next `future_heights` heights are buffered and replayed when
their height starts; a message from further ahead means we are behind
(`on_behind`): the host catches up by fetching certified blocks from peers, hands
each to `apply_synced_block`, then calls `start()` at the new tip. A host sees every
message before passing it on, so it also notices a peer a height or two ahead while
this node is stuck (`consensus.sync.BehindWatch`), and asks a peer whose message shows
what gossip lost on its way here (`consensus.repair`). Waits are timer requests, never
sleeps (`consensus.engine_timeouts`); the mempool and the block store are the host's
(`consensus.mempool`, `consensus.block_store`).

With `compact_proposals`, proposals leave as compact proposals (`consensus.compact`:
the transactions the mempool holds as ids, the others in full) and a compact
proposal is rebuilt from the mempool and the transactions of this height's
proposals. One that names transactions this node lacks waits (`consensus.proposal_txs`),
once its signature checks, while the host fetches them (`on_missing_txs`, answered by
`add_txs`); the
round's propose timeout runs meanwhile, so a fetch too slow only makes this node
prevote nil, as for a proposal that came late.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence

from consensus.application import Application
from consensus.block_store import BlockStore
from consensus.compact import CompactProposal, MissingTxs, make_compact
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
from consensus.engine_config import ChainStart, EngineConfig, EngineStats
from consensus.engine_timeouts import (
    EngineTimeout,
    GossipDue,
    HeightDue,
    ProposalDue,
    RepairDue,
    Timers,
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
from consensus.mempool import EngineMempool
from consensus.messages import Message, decode_message, encode_message
from consensus.proposal_times import OnProposalTime, ProposalTimes
from consensus.proposal_txs import ProposalTxs
from consensus.proposal_wait import ProposalWait
from consensus.records import (
    WAL_KIND_HEIGHT,
    WAL_KIND_INPUT,
    LoggedInput,
    decode_record,
    encode_height_record,
    encode_input_record,
)
from consensus.regossip import get_gossip, is_regossip_due
from consensus.repair import (
    OnMissingCommit,
    OnMissingProposal,
    Repair,
    find_commit,
    get_precommits,
)
from consensus.signer import DoubleSignRefused, Signer
from consensus.state_machine import (
    MAX_FUTURE_ROUNDS,
    ConsensusState,
    apply,
    get_proposer_key,
    holds_vote,
    initial_state,
)
from consensus.sync import verify_synced_block
from consensus.transport import PeerId, Transport
from consensus.types import (
    ZERO_HASH,
    Block,
    CommitCertificate,
    Proposal,
    ValidatorSet,
    Vote,
)
from consensus.validator_sets import ValidatorCheckpoints, ValidatorSets
from consensus.wal import Wal
from lightclient.crypto import PrivateKey
from records.codec import MAX_EVIDENCE_AGE_BLOCKS, DecodeError

log = logging.getLogger(__name__)


_DEFERRED_DURING_REPLAY = (Broadcast, ScheduleTimeout, RequestProposal, ValidateBlock)
_LOGGED_INPUTS = (ProposalReceived, VoteReceived, TimeoutFired, BlockPrepared, BlockValidated)

OnCommit = Callable[[Block, CommitCertificate, bytes], None]
OnBehind = Callable[[PeerId, int], None]
OnMissingTxs = Callable[[PeerId, CompactProposal, tuple[bytes, ...]], None]


class Engine:
    def __init__(
        self,
        start: ChainStart,
        key: PrivateKey | None,
        app: Application,
        mempool: EngineMempool,
        store: BlockStore,
        wal: Wal,
        transport: Transport,
        timers: Timers,
        now_ms: Callable[[], int],
        config: EngineConfig = EngineConfig(),
        *,
        signer: Signer | None = None,
        on_commit: OnCommit | None = None,
        on_behind: OnBehind | None = None,
        on_missing_txs: OnMissingTxs | None = None,
        on_missing_proposal: OnMissingProposal | None = None,
        on_missing_commit: OnMissingCommit | None = None,
        on_proposal_time: OnProposalTime | None = None,
    ) -> None:
        """`signer` (sharing `wal`) replaces the one built from `key`; without `on_behind`
        messages from too far ahead are dropped; `on_missing_txs(peer, compact, ids)` asks
        the host to fetch what a compact proposal names and this node lacks (from `peer`,
        who sent it, or any other) and hand it to `add_txs`; `on_missing_proposal(voter,
        height, round)` asks the host to fetch a proposal a vote showed this node lacks and
        hand it to `receive`, `on_missing_commit(peer, height)` the commit certificate of
        this node's height from a peer that moved past it, for `add_commit`
        (`consensus.repair`); `on_proposal_time(proposer,
        ahead_ms, timely)` hears, for each round's proposal, how far its time was ahead of
        this node's clock when it arrived (negative: behind), and whether it was timely."""
        self.chain_start = start
        self.app = app
        self.mempool = mempool
        self.store = store
        self.wal = wal
        self.transport = transport
        self.timers = timers
        self.now_ms = now_ms
        self.config = config
        if signer is None and key is not None:
            signer = Signer(key, start.chain_id, wal)
        self.signer = signer
        self.on_commit = on_commit
        self.on_behind = on_behind
        self.on_missing_txs = on_missing_txs
        self.on_missing_proposal = on_missing_proposal
        self.on_missing_commit = on_missing_commit
        self._repair = Repair()
        self.pool = EvidencePool()
        self.stats = EngineStats()
        self._times = ProposalTimes(self.stats, on_proposal_time)
        own = None if signer is None else signer.key.public_key
        first = ValidatorSet.from_validators(start.validators)
        self._checkpoints = ValidatorCheckpoints(store, config.checkpoint_interval)
        checkpoint = self._checkpoints.load(first)
        self._validator_sets = ValidatorSets(
            checkpoint.validator_set, app.get_validator_update, first_height=checkpoint.height
        )
        self.state: ConsensusState = initial_state(start.chain_id, own, first, config.timeouts)
        self._replaying = False
        self._deferred: list[Effect] = []
        self._future: deque[tuple[PeerId, Message]] = deque(maxlen=config.max_buffered)
        self._gossiping = False
        self._gossiped_at = (0, 0)
        self._stuck_ticks = 0
        """Re-gossip intervals in a row that this height and round have not moved."""
        self._txs = ProposalTxs()
        self._proposal_wait = ProposalWait(
            config, mempool, timers, now_ms, self._prepare, self._is_current
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Resume after the last stored block, replaying that height's WAL records.

        Also the way back after block sync moved the store ahead of consensus.
        """
        self._resume(self.store.get_height() + 1)
        if not self._gossiping and self.config.regossip_ms > 0:
            self._gossiping = True
            self._gossiped_at = (self.state.height, self.state.round)
            self.timers.schedule(self.config.regossip_ms, GossipDue())

    def _resume(self, height: int) -> None:
        self.app.check_height(height)
        records = self.wal.records
        marker = max(
            (i for i, r in enumerate(records) if decode_record(r) == (WAL_KIND_HEIGHT, height)),
            default=None,
        )
        if marker is None:
            self._start_height(height)
            return
        inputs = [
            body
            for kind, body in map(decode_record, records[marker + 1 :])
            if kind == WAL_KIND_INPUT
        ]
        log.info("replaying %d WAL inputs at height %d", len(inputs), height)
        self._replaying = True
        self._process(self._get_start_height(height))
        for inp in inputs:
            if self.state.height == height:
                self._process(inp)
        self._replaying = False
        deferred, self._deferred = self._deferred, []
        for effect in deferred:
            self._execute(effect)
        self._replay_buffered()

    @property
    def height(self) -> int:
        return self.state.height

    def get_validators(self, height: int) -> ValidatorSet:
        """The validator set of `height` (consensus/validator_sets.py). Needs block
        `height - 2` committed."""
        return self._validator_sets.get(height)

    def get_past_validators(self, height: int) -> dict[int, ValidatorSet]:
        """The sets of the heights whose evidence a block at `height` may commit."""
        first = max(1, height - MAX_EVIDENCE_AGE_BLOCKS)
        return {h: self.get_validators(h) for h in range(first, height)}

    # ------------------------------------------------------------------ host calls

    def on_message(self, peer: PeerId, data: bytes) -> None:
        """Handle one encoded message from `peer`; malformed bytes are counted and dropped."""
        try:
            message = decode_message(data)
        except DecodeError:
            self.stats.decode_errors += 1
            return
        self.receive(peer, message)

    def receive(self, peer: PeerId, message: Message) -> None:
        """Handle one decoded message from `peer`."""
        current = self.state.height
        if message.height == current:
            if self.state.decided:
                return
            if isinstance(message, CompactProposal):
                self._receive_compact(peer, message)
            elif isinstance(message, Proposal):
                received_ms = self.now_ms()
                if self._is_proposal_wanted(message):
                    self._txs.hold(message)
                    self._times.note_arrival(message, received_ms, self.state)
                self._process(ProposalReceived(message, received_ms))
            elif not holds_vote(self.state, message):  # a re-sent copy is no input to log
                self._note_missing(peer, message)
                self._process(VoteReceived(message))
        elif message.height < current:
            return  # a finished height: its sender catches up by block sync
        elif message.height <= current + self.config.future_heights:
            self._future.append((peer, message))
            if message.height == current + 1:
                self._ask_for_commit(peer)
        elif self.on_behind is not None:
            self.on_behind(peer, message.height)

    def _receive_compact(self, peer: PeerId, compact: CompactProposal) -> None:
        """Rebuild the proposal from what this node holds, or wait for what it lacks (only
        for the round's proposer's signature: nobody else makes this node fetch)."""
        if not self._is_proposal_wanted(compact):
            return
        received_ms = self.now_ms()
        try:
            proposal = compact.assemble(self.get_tx)
        except MissingTxs as exc:
            if self._txs.wait(compact, received_ms) and self.on_missing_txs is not None:
                self.on_missing_txs(peer, compact, exc.tx_ids)
            return
        self._txs.hold(proposal)
        self._times.note_arrival(proposal, received_ms, self.state)
        self._process(ProposalReceived(proposal, received_ms))

    def _note_missing(self, voter: PeerId, vote: Vote) -> None:
        """A vote naming a block of which this node lacks the proposal, or transactions
        of its compact proposal: ask `voter` for them if they are still missing after
        the grace (consensus.repair). Before the vote counts, which may end the height."""
        if vote.block_hash is None:
            return
        key = (vote.round, vote.block_hash)
        wanted = self._repair.get_wanted(*key, self.state.proposals, self._txs.awaiting)
        if wanted is None or not self._repair.is_new(wanted, *key, voter):
            return
        if not vote.is_signed_by_validator(self.chain_start.chain_id):
            return
        self._repair.note_asked(wanted, *key, voter)
        due = RepairDue(vote.height, vote.round, vote.block_hash, voter)
        self.timers.schedule(self.config.repair_grace_ms, due)

    def _ask_for_missing(self, due: RepairDue) -> None:
        """The grace of a vote that showed something missing is over: ask its voter for
        what is still missing."""
        if due.height != self.state.height or self.state.decided:
            return
        key = (due.round, due.block_hash)
        wanted = self._repair.get_wanted(*key, self.state.proposals, self._txs.awaiting)
        if wanted == "proposal" and self.on_missing_proposal is not None:
            self.stats.proposals_asked += 1
            self.on_missing_proposal(due.voter, due.height, due.round)
        elif wanted == "txs" and self.on_missing_txs is not None:
            missing = self._txs.get_missing(key, self.get_tx)
            if missing is not None:
                self.on_missing_txs(due.voter, *missing)

    def _ask_for_commit(self, peer: PeerId) -> None:
        """Ask `peer`, whose message of the next height shows it committed this one, for
        the commit certificate of this height (consensus.repair), once a height."""
        if self.on_missing_commit is None or self.state.decided or self._repair.commit_asked:
            return
        self._repair.commit_asked = True
        self.stats.commits_asked += 1
        self.on_missing_commit(peer, self.state.height)

    def add_commit(self, peer: PeerId, certificate: CommitCertificate) -> None:
        """A commit certificate `peer` answered: its precommits count as that peer's
        gossip of them would (each checked; one for a block whose proposal this node
        lacks asks `peer` for it)."""
        for vote in get_precommits(certificate):
            self.receive(peer, vote)

    def get_proposal_message(self, height: int, round_: int) -> bytes | None:
        """The proposal of (`height`, `round_`) encoded as gossip sends it, if this node
        holds it (of its height or the `HEIGHTS_SERVED` before): a peer it missed asks."""
        current, proposals = self.state.height, self.state.proposals
        proposal = self._repair.find_proposal(height, round_, current, proposals)
        return None if proposal is None else self._pack(proposal)

    def get_commit(self, height: int) -> CommitCertificate | None:
        """The commit certificate of `height` if it is one of the last this node stored
        (`HEIGHTS_SERVED`; older ones are block sync's): a peer still deciding it asks."""
        return find_commit(height, self.state.last_commit, self.store)

    def _is_proposal_wanted(self, proposal: Proposal | CompactProposal) -> bool:
        """The first proposal of its round, signed by that round's proposer (as the state
        machine keeps): only such a proposal's transactions are held or fetched."""
        return (
            proposal.round not in self.state.proposals
            and proposal.round <= self.state.round + MAX_FUTURE_ROUNDS
            and proposal.proposer == get_proposer_key(self.state, proposal.round)
            and proposal.is_signed_by_proposer(self.chain_start.chain_id)
        )

    @property
    def awaiting_txs(self) -> bool:
        """Whether a compact proposal of this height waits for transactions."""
        return bool(self._txs.awaiting)

    def add_txs(self, txs: Sequence[bytes]) -> None:
        """Transactions for the compact proposals waiting (fetched by the host, or just
        arrived by gossip); any other is ignored. A proposal now complete is received."""
        for compact, proposal, received_ms in self._txs.add(txs, self.get_tx):
            if compact.round not in self.state.proposals and not self.state.decided:
                self._times.note_arrival(proposal, received_ms, self.state, self.now_ms())
                self._process(ProposalReceived(proposal, received_ms))

    def get_tx(self, tx_id: bytes) -> bytes | None:
        """A transaction of this or the previous height's proposals, or of the mempool."""
        found = self._txs.get(tx_id)
        return found if found is not None else self.mempool.get_tx(tx_id)

    def _encode(self, message: Proposal | Vote) -> bytes:
        """`message` as this node sends it; a proposal's transactions held for peers that
        ask for those the compact proposal names by id."""
        if self.config.compact_proposals and isinstance(message, Proposal):
            self._txs.hold(message)
        return self._pack(message)

    def _pack(self, message: Proposal | Vote) -> bytes:
        if self.config.compact_proposals and isinstance(message, Proposal):
            in_mempool = self.mempool.get_tx
            return encode_message(make_compact(message, lambda i: in_mempool(i) is not None))
        return encode_message(message)

    def on_timeout(self, timeout: EngineTimeout) -> None:
        if isinstance(timeout, TimeoutFired):
            self._process(timeout)
        elif isinstance(timeout, HeightDue):
            if self.store.get_height() == timeout.height - 1 == self.state.height:
                self._start_height(timeout.height)
        elif isinstance(timeout, ProposalDue):
            self._proposal_wait.on_due(timeout)
        elif isinstance(timeout, RepairDue):
            self._ask_for_missing(timeout)
        else:
            self.gossip()
            self.timers.schedule(self.config.regossip_ms, timeout)

    def gossip(self) -> None:
        """Re-send the messages of this height's live rounds (lost gossip; `regossip_moving`;
        `consensus.regossip`)."""
        seen, self._gossiped_at = self._gossiped_at, (self.state.height, self.state.round)
        self._stuck_ticks = self._stuck_ticks + 1 if seen == self._gossiped_at else 0
        due = self.config.regossip_moving or is_regossip_due(self._stuck_ticks)
        if due and not self.state.decided:
            for message in get_gossip(self.state):
                self.transport.rebroadcast(self._encode(message))

    def apply_synced_block(self, block: Block, certificate: CommitCertificate) -> None:
        """Verify a block fetched from a peer as the store's next one, then apply and store it.

        Raises SyncRejected (nothing changes). Consensus does not move: call `start()`
        once the store is where syncing stops.
        """
        height = self.store.get_height() + 1
        previous = self.store.get_block(height - 1)
        prev_hash = ZERO_HASH if previous is None else previous[0].hash
        verify_synced_block(
            self.chain_start.chain_id,
            self.get_validators(height),
            height,
            prev_hash,
            block,
            certificate,
        )
        self._finalize(block, certificate)

    # ------------------------------------------------------------------ messages

    def _replay_buffered(self) -> None:
        """Hands buffered messages of this height to the core; keeps those still ahead."""
        buffered, self._future = self._future, deque(maxlen=self.config.max_buffered)
        for peer, message in buffered:
            if message.height >= self.state.height:
                self.receive(peer, message)

    # ------------------------------------------------------------------ the core

    def _process(self, inp: Input) -> None:
        if not self._replaying and isinstance(inp, _LOGGED_INPUTS):
            self.wal.append(encode_input_record(_as_logged(inp)))
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
            if self._replaying and isinstance(effect, _DEFERRED_DURING_REPLAY):
                self._deferred.append(effect)
            else:
                self._execute(effect)

    def _execute(self, effect: Effect) -> None:
        if isinstance(effect, SignVote | SignProposal):
            self._sign(effect)
        elif isinstance(effect, Broadcast):
            self.transport.broadcast(self._encode(effect.message))
        elif isinstance(effect, ScheduleTimeout):
            timeout = TimeoutFired(effect.height, effect.round, effect.step)
            self.timers.schedule(effect.duration_ms, timeout)
        elif isinstance(effect, RequestProposal):
            self._proposal_wait.request(effect.height, effect.round)
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
            log.error("%s", exc)
            self.stats.refused_signatures.append(exc)

    # ------------------------------------------------------------------ proposals

    def notice_txs(self) -> None:
        """The host's mempool admitted a transaction (`txs_noticed`; consensus.proposal_wait)."""
        self._proposal_wait.notice_txs()

    def _is_current(self, height: int, round_: int) -> bool:
        return (self.state.height, self.state.round) == (height, round_) and not (
            self.state.decided
        )

    def _prepare(self, height: int, round_: int, candidates: Sequence[bytes]) -> None:
        time_ms = self._times.date_proposal(height, self.now_ms(), self.state.prev_time_ms)
        prepared = self.app.prepare_proposal(height, time_ms, candidates)
        txs = self.config.fit_block(prepared)
        if len(txs) < len(prepared):
            log.error(
                "application prepared %d txs (%d bytes) over the block limits "
                "(%d txs, %d bytes); proposing the first %d",
                len(prepared), sum(map(len, prepared)), self.config.max_block_txs,
                self.config.max_block_bytes, len(txs),
            )  # fmt: skip
        evidence = self.pool.get_pending(height)
        self._process(BlockPrepared(height, round_, time_ms, txs, evidence))

    # ------------------------------------------------------------------ heights

    def _commit(self, block: Block, certificate: CommitCertificate) -> None:
        """Finalize, store durably, then start the next height (after the commit pause)."""
        root = self._finalize(block, certificate)
        self._times.note_committed(block.header, self.state.own_key)
        log.info(
            "committed height %d round %d: %d txs, root %s",
            block.height,
            certificate.round,
            len(block.txs),
            root.hex()[:16],
        )
        if self.config.timeouts.commit_ms > 0:
            self.timers.schedule(self.config.timeouts.commit_ms, HeightDue(block.height + 1))
        else:
            self._start_height(block.height + 1)

    def _finalize(self, block: Block, certificate: CommitCertificate) -> bytes:
        """Apply `block` to the app and store it; the mempool, evidence and listener follow."""
        root = self.app.finalize_block(block)
        self.store.save_block(block, certificate, root)
        self.mempool.update(block.txs)
        self.pool.process_committed_block(block)
        if self.on_commit is not None:
            self.on_commit(block, certificate, root)
        return root

    def _start_height(self, height: int) -> None:
        self.app.check_height(height)  # before anything of the height is logged or signed
        self._txs.start_height()
        self._times.start_height()
        self._repair.start_height(self.state.height, self.state.proposals)
        # Not fsynced (an fsync per height on every node's critical path): the first of
        # our signatures at this height syncs it with everything before it, and a marker
        # lost with no signature after it only makes a restart start the height afresh.
        self.wal.append(encode_height_record(height))
        if self.signer is not None:
            self.signer.prune_below(height)
        self._checkpoints.save_if_due(height, self._validator_sets)
        self._process(self._get_start_height(height))
        self._replay_buffered()

    def _get_start_height(self, height: int) -> StartHeight:
        validators = self.get_validators(height)
        following = self.get_validators(height + 1)
        if height == 1:
            s = self.chain_start
            return StartHeight(1, validators, following, ZERO_HASH, s.state_root, s.time_ms, None)
        found = self.store.get_block(height - 1)
        assert found is not None, f"block {height - 1} must be stored before height {height}"
        block, certificate = found
        return StartHeight(
            height,
            validators,
            following,
            block.hash,
            self.store.get_state_root(height - 1),
            block.header.time_ms,
            certificate,
            self.get_past_validators(height),
        )


def _as_logged(inp: Input) -> LoggedInput:
    assert isinstance(inp, _LOGGED_INPUTS)
    return inp
