"""What gossip lost, asked of a peer whose own message shows it holds it.

The validators send their consensus messages straight to each other and nobody relays
them (node/p2p/router.py), so a link that loses one direction (A hears B, B does not
hear A) keeps everything B sends from A. A's peers commit without it, and A would wait
until they had moved on and it had block-synced the height (`consensus.sync.BehindWatch`):
seconds a height. Two of a peer's messages show what A lacks and that the peer has it,
and the peer's message just crossed its link to A, so A asks that peer:

- a vote for a block of A's height whose proposal A still holds no copy of `GRACE_MS`
  later: the voter holds the proposal (`Engine`'s `on_missing_proposal`, once per round
  and block); or whose
  compact proposal waits for transactions that its proposer's node, which A asked first,
  did not send: the voter holds them (`on_missing_txs`, once per voter);
- a message of the next height while A has not decided its own: the sender committed
  A's height and holds its commit certificate, whose precommits A then counts as votes
  (`on_missing_commit`, once per height). A proposal a precommit names and A lacks is
  then asked of the same peer.

A node answers from the proposals and certificates of its last few heights
(`HEIGHTS_SERVED`: the asker, a round trip away, is often a height behind). What
it is answered counts as gossip would: a proposal is checked against its proposer's
signature and the round's proposer, each precommit against its validator's, so a peer can
make a node ask, never believe. CometBFT's consensus reactor does the same from each
peer's state: it sends a peer the block parts and votes that peer shows it lacks, and a
peer a height behind the commit of that height.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from typing import Literal

from consensus.block_store import BlockStore
from consensus.transport import PeerId
from consensus.types import CommitCertificate, Proposal, Vote, VoteType

OnMissingProposal = Callable[[PeerId, int, int], None]
"""(voter, height, round): ask the voter for that round's proposal."""
OnMissingCommit = Callable[[PeerId, int], None]
"""(peer, height): ask a peer that moved past `height` for its commit certificate."""

Wanted = Literal["proposal", "txs"]
GRACE_MS = 100
"""A vote may overtake the proposal it names (a node checks a small vote sooner than a
large proposal; a path through the voter may be shorter): what it shows missing is asked
only if it is still missing this long after."""
HEIGHTS_SERVED = 4
"""A node answers for the proposals and certificates of this many heights before its own:
an asker a round trip away may find the peer moved on by a height or two, and one
further behind is block sync's."""
MAX_ASKED_PER_HEIGHT = 16
"""Questions asked at one height at most: an honest network needs one or two a round,
and a faulty validator voting for blocks never proposed makes a node ask this often only."""


@dataclass
class Repair:
    """What this node asked for at its height, and the proposals of the height before
    (peers a proposal missed ask for them)."""

    asked: set[tuple[str, int, bytes, PeerId]] = field(default_factory=set)
    """(what, round, block hash, of whom) asked at the current height."""
    commit_asked: bool = False
    proposals_before: dict[int, Mapping[int, Proposal]] = field(default_factory=dict)
    """The proposals of the `HEIGHTS_SERVED` heights before, by height and round."""

    def get_wanted(
        self,
        round_: int,
        block_hash: bytes,
        held: Container[int],
        awaited: Container[tuple[int, bytes]],
    ) -> Wanted | None:
        """What of the block (`round_`, `block_hash`) a vote named this node lacks: its
        proposal, if this node holds none of the round (`held`: rounds); the transactions
        its compact proposal waits for (`awaited`: (round, block hash)), which a voter
        for it holds; None if neither."""
        if (round_, block_hash) in awaited:
            return "txs"
        return None if round_ in held else "proposal"

    def is_new(self, wanted: Wanted, round_: int, block_hash: bytes, voter: PeerId) -> bool:
        """Whether `wanted` is not asked yet: a proposal of anyone (any voter holds it),
        transactions of this voter; and the height has questions left."""
        key = _get_key(wanted, round_, block_hash, voter)
        return key not in self.asked and len(self.asked) < MAX_ASKED_PER_HEIGHT

    def note_asked(self, wanted: Wanted, round_: int, block_hash: bytes, voter: PeerId) -> None:
        self.asked.add(_get_key(wanted, round_, block_hash, voter))

    def start_height(self, ended: int, proposals: Mapping[int, Proposal]) -> None:
        """The node moves past height `ended`, whose proposals were `proposals`."""
        self.asked.clear()
        self.commit_asked = False
        self.proposals_before[ended] = proposals
        self.proposals_before.pop(ended - HEIGHTS_SERVED, None)

    def find_proposal(
        self, height: int, round_: int, current: int, proposals: Mapping[int, Proposal]
    ) -> Proposal | None:
        """The proposal of (`height`, `round_`) held: of the `current` height (whose
        proposals are `proposals`) or of one of the `HEIGHTS_SERVED` before."""
        held = proposals if height == current else self.proposals_before.get(height, {})
        return held.get(round_)


def find_commit(
    height: int, last: CommitCertificate | None, store: BlockStore
) -> CommitCertificate | None:
    """The commit certificate of `height`: the `last` this node's height started from, or
    one of the `HEIGHTS_SERVED` it stored before (older ones are block sync's)."""
    if last is not None and last.height == height:
        return last
    stored = store.get_height()
    recent = stored - HEIGHTS_SERVED < height <= stored
    found = store.get_block(height) if recent else None
    return None if found is None else found[1]


def _get_key(
    wanted: Wanted, round_: int, block_hash: bytes, voter: PeerId
) -> tuple[str, int, bytes, PeerId]:
    """A question's key: a proposal is asked of one voter (any holds it), transactions of
    each voter asked."""
    return (wanted, round_, block_hash, voter if wanted == "txs" else "")


def get_precommits(certificate: CommitCertificate) -> list[Vote]:
    """The precommits a commit certificate holds, as the votes their validators sent."""
    c = certificate
    return [
        Vote(VoteType.PRECOMMIT, c.height, c.round, c.block_hash, s.validator, s.signature)
        for s in c.signatures
    ]
