"""What gossip lost, asked of a peer whose message shows it holds it
(consensus/repair.py): a validator deaf to one peer commits with the others, where it
would otherwise fall behind and block-sync; the engine's own part is in test_engine.py."""

from __future__ import annotations

import pytest

from consensus.messages import decode_message
from consensus.repair import HEIGHTS_SERVED, MAX_ASKED_PER_HEIGHT, Repair, get_precommits
from consensus.sim.scenarios import check_invariants
from consensus.sim.simulator import NodeSpec, Scenario, Simulator
from consensus.types import CommitCertificate, CommitSig, Vote, VoteType

FOUR = tuple(NodeSpec(i) for i in range(4))


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("deaf", [((0, 1),), ((0, 1), (1, 0))], ids=["one way", "both ways"])
def test_a_validator_deaf_to_one_peer_keeps_committing_without_block_sync(
    compact: bool, deaf: tuple[tuple[int, int], ...]
) -> None:
    sim = Simulator(
        Scenario(
            41, (1, 1, 1, 1), FOUR, deaf=deaf, heal_ms=60_000, height_cap=16, max_ms=20_000,
            compact_proposals=compact,
        )
    )  # fmt: skip
    sim.run()
    assert check_invariants(sim).ok
    assert min(n.store.get_height() for n in sim.nodes) >= 16
    assert [n.sync_stats.applied for n in sim.nodes] == [0] * 4
    asked = [(n.engine.stats.proposals_asked, n.engine.stats.commits_asked) for n in sim.nodes
             if n.engine is not None]  # fmt: skip
    assert asked[0][0] >= 16 // 4  # node 1's turns to propose
    assert all(proposals == 0 for proposals, _ in asked[2:])


def vote(round_: int, block: bytes | None) -> Vote:
    return Vote(VoteType.PREVOTE, 5, round_, block, b"v" * 32)


def test_a_proposal_is_asked_once_its_transactions_once_a_voter_and_a_height_a_few_times(
) -> None:  # fmt: skip
    repair, block = Repair(), b"a" * 32
    assert repair.get_wanted(0, block, held=(0,), awaited=()) is None
    assert repair.get_wanted(0, block, held=(), awaited=()) == "proposal"
    assert repair.get_wanted(0, block, held=(0,), awaited=((0, block),)) == "txs"
    assert repair.is_new("proposal", 0, block, "v")
    repair.note_asked("proposal", 0, block, "v")
    assert not repair.is_new("proposal", 0, block, "w")  # any voter holds it: asked once
    repair.note_asked("txs", 1, block, "v")
    assert not repair.is_new("txs", 1, block, "v") and repair.is_new("txs", 1, block, "w")
    for round_ in range(2, MAX_ASKED_PER_HEIGHT):
        assert repair.is_new("proposal", round_, block, "v")
        repair.note_asked("proposal", round_, block, "v")
    assert not repair.is_new("proposal", MAX_ASKED_PER_HEIGHT, block, "v")
    repair.commit_asked = True
    repair.start_height(5, {})
    assert repair.is_new("proposal", 0, block, "v") and not repair.commit_asked


def test_a_certificate_holds_the_precommits_its_validators_sent() -> None:
    certificate = CommitCertificate(
        7, 2, b"b" * 32, (CommitSig(b"x" * 32, b"1" * 64), CommitSig(b"y" * 32, b"2" * 64))
    )
    assert get_precommits(certificate) == [
        Vote(VoteType.PRECOMMIT, 7, 2, b"b" * 32, b"x" * 32, b"1" * 64),
        Vote(VoteType.PRECOMMIT, 7, 2, b"b" * 32, b"y" * 32, b"2" * 64),
    ]


class LosingPrecommitsByGossip(Simulator):
    """Node 0 never hears a precommit of height 2 by gossip."""

    def deliver(self, src: int, dst: int, data: bytes) -> None:
        message = decode_message(data)
        lost = isinstance(message, Vote) and message.vote_type == VoteType.PRECOMMIT
        if not (dst == 0 and lost and message.height == 2):
            super().deliver(src, dst, data)


def test_a_node_whose_precommits_were_lost_commits_with_a_peers_certificate() -> None:
    """Node 0 holds 2 of 5 power: the others reach no quorum without its votes, and it
    hears their precommits of height 2 only in the certificate it asks one of them for."""
    sim = LosingPrecommitsByGossip(
        Scenario(31, (2, 1, 1, 1), FOUR, grow_by=5, height_cap=5, max_ms=5_000)
    )
    sim.run()
    assert check_invariants(sim).ok
    assert [n.store.get_height() for n in sim.nodes] == [5] * 4
    node = sim.nodes[0]
    assert node.engine is not None and node.engine.stats.commits_asked >= 1
    assert node.sync_stats.applied == 0


def test_a_node_answers_for_the_proposals_of_a_few_heights_before_its_own() -> None:
    repair, proposal = Repair(), object()
    for height in range(1, 10):
        repair.start_height(height, {0: proposal})  # type: ignore[dict-item]
    held = [h for h in range(1, 12) if repair.find_proposal(h, 0, 10, {}) is proposal]
    assert held == list(range(10 - HEIGHTS_SERVED, 10))
    assert repair.find_proposal(10, 0, 10, {0: proposal}) is proposal  # type: ignore[dict-item]
