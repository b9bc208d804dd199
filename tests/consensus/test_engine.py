"""The host loop's own duties: waits as timer requests, future-height buffering, being
behind, block sync and stuck-height regossip (the simulator covers crashes and faults)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from consensus.compact import CompactProposal, compute_tx_hash, make_compact
from consensus.engine import Engine, OnMissingTxs
from consensus.engine_config import ChainStart, EngineConfig
from consensus.engine_timeouts import (
    EngineTimeout,
    GossipDue,
    HeightDue,
    ProposalDue,
    RepairDue,
)
from consensus.inputs import TimeoutFired
from consensus.messages import decode_message
from consensus.regossip import is_regossip_due
from consensus.repair import GRACE_MS
from consensus.sim.memory import HashChainApp, ListMempool, MemoryBlockStore
from consensus.sim.simulator import NodeSpec, Scenario, Simulator, make_key
from consensus.state_machine import TimeoutConfig, get_votes
from consensus.sync import SyncRejected
from consensus.transport import PeerId
from consensus.types import Proposal, ValidatorSet, Vote, Voter, VoteType
from consensus.validator_sets import ValidatorCheckpoint
from consensus.wal import MemoryWalStorage, Wal


@dataclass
class Clock:
    ms: int = 10_000

    def __call__(self) -> int:
        return self.ms


@dataclass
class Host:
    """Transport and Timers that only record, so a test fires what it chooses."""

    sent: list[bytes] = field(default_factory=list)
    resent: list[bytes] = field(default_factory=list)
    timers: list[tuple[int, EngineTimeout]] = field(default_factory=list)

    def broadcast(self, data: bytes) -> None:
        self.sent.append(data)

    def rebroadcast(self, data: bytes) -> None:
        self.resent.append(data)

    def schedule(self, delay_ms: int, timeout: EngineTimeout) -> None:
        self.timers.append((delay_ms, timeout))

    def take(self, kind: type) -> list[tuple[int, EngineTimeout]]:
        taken = [t for t in self.timers if isinstance(t[1], kind)]
        self.timers = [t for t in self.timers if not isinstance(t[1], kind)]
        return taken


def make_engine(
    config: EngineConfig,
    validators: int = 1,
    own: int | None = 0,
    txs: tuple[bytes, ...] = (),
    on_missing_txs: OnMissingTxs | None = None,
    validator_checkpoint: bytes | None = None,
) -> tuple[Engine, Host, Clock, ListMempool, MemoryBlockStore]:
    keys = [make_key(i) for i in range(validators)]
    genesis = ChainStart(
        "sim-1",
        tuple(Voter(f"v{i}", k.public_key, 1) for i, k in enumerate(keys)),
        bytes(32),
        1_000,
    )
    host, clock, mempool = Host(), Clock(), ListMempool(list(txs))
    store = MemoryBlockStore(genesis.state_root, validator_checkpoint=validator_checkpoint)
    engine = Engine(
        genesis,
        None if own is None else keys[own],
        HashChainApp(),
        mempool,
        store,
        Wal(MemoryWalStorage()),
        host,
        host,
        clock,
        config,
        on_missing_txs=on_missing_txs,
    )
    return engine, host, clock, mempool, store


def test_empty_mempool_proposer_waits_then_proposes_the_first_tx() -> None:
    engine, host, clock, mempool, store = make_engine(
        EngineConfig(TimeoutConfig(empty_block_wait_ms=100), proposal_poll_ms=10)
    )
    engine.start()
    [(delay, due)] = host.take(ProposalDue)
    assert delay == 10 and store.get_height() == 0
    clock.ms += 10
    engine.on_timeout(due)
    [(delay, due)] = host.take(ProposalDue)
    assert store.get_height() == 0
    mempool.txs.append(b"first tx")
    clock.ms += 10
    engine.on_timeout(due)
    assert store.get_height() == 1 and store.blocks[0][0].txs == (b"first tx",)


def test_empty_mempool_proposer_proposes_empty_at_the_deadline() -> None:
    engine, host, clock, _, store = make_engine(
        EngineConfig(TimeoutConfig(empty_block_wait_ms=25), proposal_poll_ms=10)
    )
    engine.start()
    for expected_delay in (10, 10, 5):
        [(delay, due)] = host.take(ProposalDue)
        assert delay == expected_delay and store.get_height() == 0
        clock.ms += delay
        engine.on_timeout(due)
    assert store.get_height() == 1 and store.blocks[0][0].txs == ()


def test_a_proposer_told_of_arrivals_looks_a_poll_after_one_and_not_before() -> None:
    engine, host, clock, mempool, store = make_engine(
        EngineConfig(TimeoutConfig(empty_block_wait_ms=100), proposal_poll_ms=10, txs_noticed=True)
    )
    engine.start()
    [(delay, deadline)] = host.take(ProposalDue)
    assert delay == 100 and store.get_height() == 0  # the deadline alone: no poll
    clock.ms += 30
    mempool.txs.append(b"first tx")
    engine.notice_txs()
    engine.notice_txs()  # a second arrival: the look is already due
    [(delay, look)] = host.take(ProposalDue)
    assert delay == 10 and store.get_height() == 0
    clock.ms += 10
    engine.on_timeout(look)
    assert store.get_height() == 1 and store.blocks[0][0].txs == (b"first tx",)
    engine.on_timeout(deadline)  # after the proposal: nothing more
    engine.notice_txs()
    assert store.get_height() == 1 and len(store.blocks) == 1
    assert all(isinstance(d, ProposalDue) and d.height == 2 for _, d in host.take(ProposalDue))


def test_a_proposer_told_of_arrivals_proposes_empty_at_the_deadline() -> None:
    engine, host, clock, _, store = make_engine(
        EngineConfig(TimeoutConfig(empty_block_wait_ms=25), proposal_poll_ms=10, txs_noticed=True)
    )
    engine.start()
    [(delay, deadline)] = host.take(ProposalDue)
    assert delay == 25
    engine.notice_txs()  # an arrival gone before the look: the wait goes on
    [(delay, look)] = host.take(ProposalDue)
    clock.ms += delay
    engine.on_timeout(look)
    [(delay, _)] = host.take(ProposalDue)
    assert delay == 15 and store.get_height() == 0
    clock.ms += 14
    engine.on_timeout(deadline)  # a timer a little ahead of the clock waits the rest
    [(delay, deadline)] = host.take(ProposalDue)
    assert delay == 1 and store.get_height() == 0
    clock.ms += 1
    engine.on_timeout(deadline)
    assert store.get_height() == 1 and store.blocks[0][0].txs == ()


def test_a_proposer_after_a_failed_round_proposes_at_once_even_empty() -> None:
    """The empty-block wait is round 0's, as CometBFT's `create_empty_blocks_interval`: a
    later round's proposer that waited for a transaction would send its proposal that
    much closer to the others' propose timeout, which a failed round has shown is near."""
    config = EngineConfig(TimeoutConfig(empty_block_wait_ms=100), txs_noticed=True)
    probe, *_ = make_engine(config, validators=4, own=None)
    keys = [make_key(i) for i in range(4)]
    second = probe.state.validators.get_proposer(1).public_key
    own = next(i for i, k in enumerate(keys) if k.public_key == second)
    engine, host, _, _, _ = make_engine(config, validators=4, own=own)
    engine.start()
    assert host.take(ProposalDue) == [] and host.sent == []  # not round 0's proposer
    for vote_type in (VoteType.PREVOTE, VoteType.PRECOMMIT):
        for i in (i for i in range(4) if i != own):
            vote = Vote(vote_type, 1, 0, None, keys[i].public_key)
            engine.receive("p", replace(vote, signature=keys[i].sign(vote.sign_bytes("sim-1"))))
    for _, timeout in host.take(TimeoutFired):
        engine.on_timeout(timeout)
    assert engine.state.round == 1
    assert host.take(ProposalDue) == []
    [proposal] = [m for m in map(decode_message, host.sent) if isinstance(m, Proposal)]
    assert (proposal.round, proposal.block.txs) == (1, ())


def test_stale_proposal_wait_does_nothing() -> None:
    engine, host, _, mempool, store = make_engine(
        EngineConfig(TimeoutConfig(empty_block_wait_ms=100))
    )
    engine.start()
    [(_, due)] = host.take(ProposalDue)
    mempool.txs.append(b"tx")
    assert isinstance(due, ProposalDue)
    engine.on_timeout(ProposalDue(due.height, due.round + 1, due.deadline_ms))
    assert store.get_height() == 0 and host.take(ProposalDue) == []


def test_next_height_starts_after_the_commit_pause() -> None:
    engine, host, _, _, store = make_engine(EngineConfig(TimeoutConfig(commit_ms=50)), txs=(b"tx",))
    engine.start()
    assert store.get_height() == 1 and engine.height == 1 and engine.state.decided
    [(delay, due)] = host.take(HeightDue)
    assert (delay, due) == (50, HeightDue(2))
    engine.on_timeout(HeightDue(3))  # not the next height: ignored
    assert engine.height == 1
    engine.on_timeout(due)
    assert engine.height == 2 and store.get_height() == 2  # a lone validator commits at once


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        (b"\x91\x02", "unreadable, walking from genesis: cannot decode ValidatorCheckpoint"),
        (
            ValidatorCheckpoint(
                5, ValidatorSet.from_validators((Voter("v0", make_key(0).public_key, 1),))
            ).encode(),
            "checkpoint of height 5 is past the first height asked, -99",
        ),
    ],
)
def test_a_checkpoint_a_restart_cannot_start_from_is_set_aside_for_the_walk_from_genesis(
    stored: bytes, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = EngineConfig(TimeoutConfig(commit_ms=50))
    engine, _, _, _, store = make_engine(config, txs=(b"tx",), validator_checkpoint=stored)
    engine.start()
    assert why in caplog.text
    assert store.get_height() == 1 and engine.get_validators(1).proposer.name == "v0"


def record_chain(heights: int) -> tuple[list[Proposal | Vote], MemoryBlockStore]:
    """Run a fault-free 4-validator simulation; every proposal and vote it sent, node 0's store."""
    seen: list[Proposal | Vote] = []

    class Recording(Simulator):
        def deliver(self, src: int, dst: int, data: bytes) -> None:
            message = decode_message(data)
            if isinstance(message, Proposal | Vote) and message not in seen:
                seen.append(message)
            super().deliver(src, dst, data)

    sim = Recording(
        Scenario(
            1,
            (1, 1, 1, 1),
            tuple(NodeSpec(i) for i in range(4)),
            grow_by=heights,
            height_cap=heights,
        )
    )
    sim.run()
    return seen, sim.nodes[0].store


def test_full_node_buffers_next_heights_syncs_and_catches_up() -> None:
    messages, chain = record_chain(4)
    behind: list[tuple[PeerId, int]] = []
    engine, _, _, _, store = make_engine(EngineConfig(), validators=4, own=None)
    engine.on_behind = lambda peer, height: behind.append((peer, height))
    engine.start()
    for message in messages:
        if message.height > 1:
            engine.receive("p", message)
    assert {h for _, h in behind} >= {4} and min(h for _, h in behind) == 4
    assert store.get_height() == 0
    block, certificate = chain.blocks[0][:2]
    engine.apply_synced_block(block, certificate)
    engine.start()
    assert store.get_hashes() == chain.get_hashes()[:3]
    assert engine.height == 4


def test_synced_block_that_does_not_extend_the_store_is_rejected() -> None:
    _, chain = record_chain(2)
    engine, _, _, _, store = make_engine(EngineConfig(), validators=4, own=None)
    block, certificate = chain.blocks[1][:2]
    with pytest.raises(SyncRejected, match="expected height 1"):
        engine.apply_synced_block(block, certificate)
    assert store.get_height() == 0


@pytest.mark.parametrize("moving", [False, True])
def test_regossip_when_stuck_or_always(moving: bool) -> None:
    messages, chain = record_chain(3)
    proposals = {m.height: m for m in messages if isinstance(m, Proposal) and m.round == 0}
    engine, host, _, _, _ = make_engine(
        EngineConfig(regossip_ms=1000, regossip_moving=moving),
        validators=4,
        own=None,
    )
    engine.start()
    [(delay, tick)] = host.take(GossipDue)
    assert delay == 1000
    engine.receive("p", proposals[1])
    engine.on_timeout(tick)  # height 1 has not moved since the start: re-send
    assert [decode_message(d) for d in host.resent] == [proposals[1]]
    assert host.take(GossipDue) == [(1000, tick)]
    host.resent.clear()
    engine.apply_synced_block(*chain.blocks[0][:2])
    engine.start()
    engine.receive("p", proposals[2])
    engine.on_timeout(tick)  # height 2 is new since the last look
    assert [decode_message(d) for d in host.resent] == ([proposals[2]] if moving else [])


def test_a_round_stuck_for_long_regossips_ever_more_sparsely() -> None:
    messages, _ = record_chain(1)
    [proposal] = [m for m in messages if isinstance(m, Proposal) and (m.height, m.round) == (1, 0)]
    engine, host, _, _, _ = make_engine(
        EngineConfig(regossip_ms=1000, regossip_moving=False), validators=4, own=None
    )
    engine.start()
    [(_, tick)] = host.take(GossipDue)
    engine.receive("p", proposal)
    resent = []
    for second in range(1, 41):
        host.resent.clear()
        engine.on_timeout(tick)
        if host.resent:
            resent.append(second)
    assert resent == [1, 2, 4, 8, 16, 24, 32, 40]
    assert [t for t in range(1, 41) if is_regossip_due(t)] == resent


@pytest.mark.parametrize("late", [False, True])
def test_a_proposal_after_the_propose_timeout_counts_late(
    late: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """One that comes once this node timed out of the propose step (and prevoted nil) is
    counted and warned of: the timeouts are short for the network's round trips."""
    messages, _ = record_chain(1)
    [proposal] = [m for m in messages if isinstance(m, Proposal) and (m.height, m.round) == (1, 0)]
    engine, host, clock, _, _ = make_engine(EngineConfig(), validators=4, own=None)
    engine.start()
    [(timeout_ms, timeout)] = host.take(TimeoutFired)
    if late:
        clock.ms += timeout_ms
        engine.on_timeout(timeout)
    engine.receive("p", proposal)
    assert engine.stats.late_proposals == late
    warned = f"proposal of height 1 round 0 came {clock.ms - proposal.block.header.time_ms} ms"
    assert (warned in caplog.text and f"timeout {timeout_ms} ms" in caplog.text) == late


def test_a_vote_received_again_is_no_input_the_wal_logs_twice() -> None:
    """Re-gossip brings a stuck round's votes many times (ten copies each in a loaded
    network's WAL): only the first is an input, the others change nothing."""
    messages, _ = record_chain(1)
    votes = [m for m in messages if isinstance(m, Vote) and (m.height, m.round) == (1, 0)]
    engine, _, _, _, _ = make_engine(EngineConfig(), validators=4, own=None)
    engine.start()
    before = len(Wal(engine.wal.storage).records)
    engine.receive("p", votes[0])
    assert len(Wal(engine.wal.storage).records) == before + 1
    for _ in range(3):
        engine.receive("q", votes[0])
    assert len(Wal(engine.wal.storage).records) == before + 1
    assert len(get_votes(engine.state, 0, votes[0].vote_type)) == 1


def test_messages_of_a_finished_height_are_dropped_not_answered() -> None:
    """The engine serves no blocks: a peer behind catches up by its host's block sync."""
    messages, chain = record_chain(2)
    engine, host, _, _, store = make_engine(EngineConfig(), validators=4, own=None)
    engine.start()
    engine.apply_synced_block(*chain.blocks[0][:2])
    engine.start()
    for message in messages:
        if message.height == 1:
            engine.receive("p", message)
    assert host.sent == [] and store.get_height() == 1 and engine.height == 2


def test_a_compact_proposal_waits_for_the_transactions_it_lacks_then_gets_a_prevote() -> None:
    messages, _ = record_chain(1)
    [proposal] = [m for m in messages if isinstance(m, Proposal) and (m.height, m.round) == (1, 0)]
    txs = proposal.block.txs
    compact = make_compact(proposal, lambda tx_id: True)
    asked: list[tuple[str, tuple[bytes, ...]]] = []
    own = next(i for i in range(4) if make_key(i).public_key != proposal.proposer)
    engine, host, _, _, _ = make_engine(
        EngineConfig(), validators=4, own=own,
        on_missing_txs=lambda peer, c, ids: asked.append((peer, ids)),
    )  # fmt: skip
    engine.start()
    engine.receive("proposer's node", replace(compact, signature=bytes(64)))  # forged
    assert asked == []
    engine.receive("proposer's node", compact)
    assert asked == [("proposer's node", tuple(dict.fromkeys(map(compute_tx_hash, txs))))]
    assert engine.awaiting_txs and engine.state.proposals == {}
    engine.add_txs(txs[: len(txs) // 2])
    assert engine.awaiting_txs and engine.state.proposals == {}
    engine.add_txs([*txs[len(txs) // 2 :], b"not asked for"])
    assert not engine.awaiting_txs and engine.state.proposals == {0: proposal}
    assert engine.get_tx(compute_tx_hash(txs[0])) == txs[0]
    assert engine.get_tx(compute_tx_hash(b"not asked for")) is None
    votes = [m for m in map(decode_message, host.sent) if isinstance(m, Vote)]
    assert [(v.vote_type, v.block_hash) for v in votes] == [(VoteType.PREVOTE, proposal.block.hash)]


def test_a_proposer_sends_its_proposal_compact_prefilling_what_it_did_not_gossip() -> None:
    engine, host, _, _, _ = make_engine(
        EngineConfig(TimeoutConfig(commit_ms=50), compact_proposals=True),
        validators=1,
        txs=(b"gossiped",),
    )
    engine.app = PrefixingApp()
    engine.start()
    [message] = [m for m in map(decode_message, host.sent) if not isinstance(m, Vote)]
    assert isinstance(message, CompactProposal)
    assert message.tx_ids == (None, compute_tx_hash(b"gossiped"))
    assert message.prefilled == (b"proposer's own",)
    assert message.assemble(engine.get_tx).block.txs == (b"proposer's own", b"gossiped")


class PrefixingApp(HashChainApp):
    """Puts a transaction of its own first, as the node's proposal sources do."""

    def prepare_proposal(self, height: int, time_ms: int, txs: Sequence[bytes]) -> list[bytes]:
        return [b"proposer's own", *txs]


@pytest.mark.parametrize("arrives_in_grace", [False, True])
def test_a_vote_for_a_proposal_this_node_lacks_asks_the_voter_once_after_a_grace(
    arrives_in_grace: bool,
) -> None:
    messages, _ = record_chain(1)
    [proposal] = [m for m in messages if isinstance(m, Proposal) and (m.height, m.round) == (1, 0)]
    votes = [m for m in messages if isinstance(m, Vote) and m.height == 1 and m.round == 0]
    own = next(i for i in range(4) if make_key(i).public_key != proposal.proposer)
    others = [v for v in votes if v.validator != make_key(own).public_key]
    asked: list[tuple[PeerId, int, int]] = []
    engine, host, _, _, store = make_engine(EngineConfig(), validators=4, own=own)
    engine.on_missing_proposal = lambda peer, height, round_: asked.append((peer, height, round_))
    engine.start()
    engine.receive("forger", replace(others[0], signature=bytes(64)))
    engine.receive("nil voter", replace(others[0], block_hash=None))
    assert host.take(RepairDue) == []
    for vote in others:
        engine.receive(f"node of {vote.validator.hex()[:8]}", vote)
    first = f"node of {others[0].validator.hex()[:8]}"
    [(grace_ms, due)] = host.take(RepairDue)
    assert grace_ms == GRACE_MS and due == RepairDue(1, 0, proposal.block.hash, first)
    if arrives_in_grace:
        engine.receive("proposer's node", proposal)
    engine.on_timeout(due)
    assert asked == ([] if arrives_in_grace else [(first, 1, 0)])
    assert engine.stats.proposals_asked == len(asked)
    if not arrives_in_grace:
        assert store.get_height() == 0
        engine.receive(first, proposal)  # the answer: the others' precommits commit it
    assert store.get_height() == 1


def test_a_node_answers_for_the_proposals_of_its_height_and_those_before() -> None:
    messages, _ = record_chain(2)
    engine, _, _, _, store = make_engine(EngineConfig(), validators=4, own=None)
    engine.start()
    for message in messages:
        if message.height == 1:
            engine.receive("p", message)
    assert store.get_height() == 1 and engine.height == 2
    [first] = [m for m in messages if isinstance(m, Proposal) and m.height == 1]
    answer = engine.get_proposal_message(1, first.round)
    assert answer is not None and decode_message(answer) == first
    assert engine.get_proposal_message(2, 0) is None  # not received yet
    for message in messages:
        if message.height == 2 and isinstance(message, Proposal):
            engine.receive("p", message)
            answer = engine.get_proposal_message(2, message.round)
            assert answer is not None and decode_message(answer) == message
    assert engine.get_proposal_message(1, first.round + 1) is None
    assert engine.get_proposal_message(3, 0) is None
    assert engine.get_proposal_message(0, 0) is None


def test_a_message_of_the_next_height_asks_its_sender_for_this_heights_commit_once() -> None:
    messages, chain = record_chain(2)
    asked: list[tuple[PeerId, int]] = []
    engine, _, _, _, store = make_engine(EngineConfig(), validators=4, own=None)
    engine.on_missing_commit = lambda peer, height: asked.append((peer, height))
    engine.start()
    for message in messages:
        precommit = isinstance(message, Vote) and message.vote_type == VoteType.PRECOMMIT
        if message.height == 1 and not precommit:
            engine.receive("p", message)
    for message in messages:
        if message.height == 2:
            engine.receive(f"ahead {len(asked)}", message)
    assert asked == [("ahead 0", 1)] and engine.stats.commits_asked == 1
    assert store.get_height() == 0
    _, certificate = chain.get_block(1) or (None, None)
    assert certificate is not None
    engine.add_commit("ahead 0", certificate)
    assert store.get_hashes() == chain.get_hashes()[:2]  # 1, then 2 from what it buffered
    assert engine.get_commit(2) == chain.blocks[1][1]
    assert engine.get_commit(1) == certificate and engine.get_commit(3) is None
