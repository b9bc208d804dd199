"""What a validator re-sends of its height, and when: the repair of lost gossip.

Tendermint assumes that what one correct process receives every correct process
eventually receives; re-gossiping a height's proposals and votes provides it over a lossy
network (and, among validators that do not relay each other's messages, over a broken
link: node/p2p/router.py). A node re-sends while its round does not move, ever more
sparsely (`is_regossip_due`), and only the rounds that can still decide the height or
move a peer on (`get_gossip_rounds`): each failed round adds a proposal and a vote of
every validator, and re-sending the whole height would cost every peer more at each turn
the longer the height is stuck, until a loaded network handles each round's proposal
after its timeout and the height never ends (in the simulator, with every message
costing its receiver 10 ms: 2 of 12 lossy networks never recovered, none with the
rounds bounded). CometBFT's reactor likewise sends a peer the votes of its round and of
its proof of lock, not the whole height's.
"""

from __future__ import annotations

from consensus.state_machine import ConsensusState, get_votes
from consensus.types import Proposal, Vote, VoteType

MAX_REGOSSIP_SPACING = 8
"""A round stuck for long re-sends its messages every this many re-gossip intervals."""


def is_regossip_due(stuck_ticks: int) -> bool:
    """Whether a round stuck for `stuck_ticks` re-gossip intervals re-sends its messages:
    after 1, 2, 4 and 8 intervals, then every 8. Every re-send costs the live rounds'
    proposals and votes to every peer; a node too slow to send them within one interval
    (a starved CPU) would otherwise queue ever more of them ahead of its fresh votes,
    and the round it waits on would never end."""
    if stuck_ticks < 1:
        return False
    if stuck_ticks >= MAX_REGOSSIP_SPACING:
        return stuck_ticks % MAX_REGOSSIP_SPACING == 0
    return stuck_ticks & (stuck_ticks - 1) == 0


def get_gossip(state: ConsensusState) -> tuple[Proposal | Vote, ...]:
    """Messages worth re-sending to peers: the proposals and votes of `get_gossip_rounds`,
    the latest round's first, precommits before prevotes. A loaded node's publisher lets
    re-sends into its peers' queues only while they are short (node/p2p/topics.py), so
    what comes first is what gets out: in the oldest-first order, the round the peers
    waited on was the one left out at every turn."""
    rounds = get_gossip_rounds(state)
    gossip: list[Proposal | Vote] = []
    for round_ in sorted(rounds, reverse=True):
        if round_ in state.proposals:
            gossip.append(state.proposals[round_])
        for vote_type in sorted(VoteType, reverse=True):
            votes = get_votes(state, round_, vote_type)
            gossip.extend(v for k in sorted(votes) for v in votes[k])
    return tuple(gossip)


def get_gossip_rounds(state: ConsensusState) -> frozenset[int]:
    """This round and the one before (a peer still there moves on by them, L55, or finds
    the quorum it missed), the rounds of this node's lock and valid value, and the proof
    of lock the round's proposal names (what a re-proposal needs to be accepted, L28)."""
    rounds = {state.round, state.round - 1, state.locked_round, state.valid_round}
    proposal = state.proposals.get(state.round)
    if proposal is not None:
        rounds.add(proposal.pol_round)
    return frozenset(r for r in rounds if r >= 0)
