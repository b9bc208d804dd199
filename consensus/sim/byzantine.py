"""Byzantine behaviours as a transport wrapper around an otherwise honest engine.

`equivocate`: every own vote is paired with a conflicting vote (nil <-> value),
and each half of the peers gets one of the two. `equivocate_proposer`: every
own proposal is paired with a second, different block for the same round.
Both are signed with the raw key, bypassing the signer guard, as an attacker would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Protocol

from consensus.compact import CompactProposal, TxLookup
from consensus.messages import decode_message, encode_message
from consensus.transport import PeerId, Transport
from consensus.types import Block, Proposal, Vote, compute_txs_hash
from lightclient.crypto import PrivateKey, compute_hash


class PeerTransport(Transport, Protocol):
    """The simulator's transport, which also reaches one peer: how an equivocator shows
    each half of the peers a different message."""

    def send(self, peer: PeerId, data: bytes) -> None: ...


@dataclass
class ByzantineTransport:
    inner: PeerTransport
    key: PrivateKey
    chain_id: str
    mode: str
    peers: list[int]
    rng: random.Random
    get_tx: TxLookup
    """Its engine's transactions: the conflicting twin of a compact proposal is made
    from the full one (and sent in full)."""

    def broadcast(self, data: bytes) -> None:
        message = decode_message(data)
        if isinstance(message, CompactProposal):
            message = message.assemble(self.get_tx)
        twin = self._make_conflicting(message)
        if twin is None:
            self.inner.broadcast(data)
            return
        shuffled = list(self.peers)
        self.rng.shuffle(shuffled)
        half = len(shuffled) // 2
        for i, peer in enumerate(shuffled):
            self.inner.send(str(peer), data if i < half else encode_message(twin))

    def rebroadcast(self, data: bytes) -> None:
        """Its re-sends equivocate as its first sends do."""
        self.broadcast(data)

    def _make_conflicting(self, message: object) -> Proposal | Vote | None:
        own = self.key.public_key
        if self.mode == "equivocate" and isinstance(message, Vote) and message.validator == own:
            other = (
                compute_hash(b"equivocation", message.block_hash or b"")
                if message.block_hash is None
                else None
            )
            vote = replace(message, block_hash=other)
            return replace(vote, signature=self.key.sign(vote.sign_bytes(self.chain_id)))
        if (
            self.mode == "equivocate_proposer"
            and isinstance(message, Proposal)
            and message.proposer == own
        ):
            block = message.block
            txs = (*block.txs, b"equivocation-" + block.hash[:8])
            header = replace(block.header, txs_hash=compute_txs_hash(txs))
            proposal = replace(message, block=Block(header, txs, block.last_commit, block.evidence))
            return replace(proposal, signature=self.key.sign(proposal.sign_bytes(self.chain_id)))
        return None
