"""The simulator catches up as a node does: block sync from a peer over the faulty network
(consensus/sim/blocksync.py), the engine having no sync of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from consensus.engine_config import EngineConfig
from consensus.messages import decode_message
from consensus.sim.blocksync import BlocksAnswer, get_blocks_answer
from consensus.sim.scenarios import check_invariants
from consensus.sim.simulator import CrashPlan, NodeSpec, Scenario, Simulator
from consensus.types import CommitCertificate, Vote, VoteType

FOUR = tuple(NodeSpec(i) for i in range(4))
BUFFERED_HEIGHTS = EngineConfig().future_heights
"""A node further behind than this gets no help from its buffer of messages ahead."""
NEEDED_NODE_0 = Scenario(31, (2, 1, 1, 1), FOUR, grow_by=5, height_cap=5, max_ms=5_000)
"""Node 0 holds 2 of 5 power: the others (3 of 5) reach no quorum without its votes."""


def test_a_node_partitioned_far_behind_syncs_when_the_network_heals() -> None:
    sc = Scenario(21, (1, 1, 1, 1), FOUR, partition=(frozenset({3}),), heal_ms=2_000, height_cap=99)
    sim = Simulator(sc)
    sim.run()
    assert check_invariants(sim).ok
    missed = min(sim.heights_at_heal[i] for i in range(3)) - sim.heights_at_heal[3]
    assert missed > BUFFERED_HEIGHTS
    assert sim.nodes[3].sync_stats.applied >= missed


def test_a_node_crashed_for_long_catches_up_by_block_sync() -> None:
    sc = Scenario(
        22, (1, 1, 1, 1), FOUR, crashes=(CrashPlan(3, 5, 2_000),), grow_by=20, height_cap=20
    )
    sim = Simulator(sc)
    sim.run()
    assert check_invariants(sim).ok
    assert sim.nodes[3].crashes == 1 and sim.nodes[3].store.get_height() == 20
    assert sim.nodes[3].sync_stats.applied > BUFFERED_HEIGHTS


class LosingPrecommits(Simulator):
    """Node 0 never hears a precommit of height 2, whatever the scenario's faults: not by
    gossip, nor in the commit certificate it asks a peer for (consensus.repair)."""

    def deliver(self, src: int, dst: int, data: bytes) -> None:
        message = decode_message(data)
        lost = isinstance(message, Vote) and message.vote_type == VoteType.PRECOMMIT
        if not (dst == 0 and lost and message.height == 2):
            super().deliver(src, dst, data)

    def request_commit(
        self, src: int, dst: int, height: int, on_answer: Callable[[CommitCertificate], None]
    ) -> None:
        if not (src == 0 and height == 2):
            super().request_commit(src, dst, height, on_answer)


def test_a_node_one_height_behind_whose_vote_the_others_need_gets_unstuck() -> None:
    sim = LosingPrecommits(NEEDED_NODE_0)
    sim.run()
    assert check_invariants(sim).ok
    assert [n.store.get_height() for n in sim.nodes] == [5, 5, 5, 5]
    assert sim.nodes[0].sync_stats.applied >= 1


class ForgedAnswers(LosingPrecommits):
    """Node 0's block sync is answered with another chain's blocks."""

    def __init__(self, scenario: Scenario, forger: Simulator) -> None:
        super().__init__(scenario)
        self.forger = forger

    def request_blocks(
        self, src: int, dst: int, from_height: int, on_answer: Callable[[BlocksAnswer], None]
    ) -> None:
        forged = get_blocks_answer(self.forger.nodes[dst].store, from_height)
        super().request_blocks(src, dst, from_height, lambda _: on_answer(forged))


def test_a_block_that_fails_verification_is_counted_and_changes_nothing() -> None:
    other_chain = Simulator(replace(NEEDED_NODE_0, seed=32))
    other_chain.run()
    sim = ForgedAnswers(NEEDED_NODE_0, other_chain)
    sim.run()
    assert sim.nodes[0].sync_stats.rejected >= 2  # asked again after each rejection
    assert sim.nodes[0].sync_stats.applied == 0 and sim.nodes[0].store.get_height() == 1
    assert [n.store.get_height() for n in sim.nodes[1:]] == [2, 2, 2]  # stuck without node 0
    violations = check_invariants(sim).violations
    assert violations and all(v.startswith("liveness") for v in violations)
