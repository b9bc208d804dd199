"""The transactions of the proposals a node saw, and the compact proposals waiting for some.

A compact proposal (`consensus.compact`) names by id the transactions its proposer took
from its mempool; a node rebuilds it from its own mempool and the transactions of this
height's proposals. One that names transactions the node lacks waits here while the
host fetches them (the engine's `on_missing_txs`) or gossip brings them. The node holds
the transactions of this and the previous height's proposals for peers that ask for them
by id (a peer still deciding the previous height may ask).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from consensus.compact import CompactProposal, MissingTxs, index_txs
from consensus.state_machine import MAX_FUTURE_ROUNDS
from consensus.types import Proposal

MAX_AWAITING = 2 * MAX_FUTURE_ROUNDS
"""Compact proposals of the current height kept waiting for transactions (one per round
and proposer's value is all an honest network makes)."""

GetTx = Callable[[bytes], bytes | None]


@dataclass
class ProposalTxs:
    held: dict[bytes, bytes] = field(default_factory=dict)
    """The transactions of this height's proposals by id..."""
    held_before: dict[bytes, bytes] = field(default_factory=dict)
    """...and of the previous height's."""
    awaiting: dict[tuple[int, bytes], tuple[CompactProposal, int]] = field(default_factory=dict)
    """Compact proposals of this height waiting for transactions, by (round, block hash),
    each with this node's clock when it arrived."""

    def get(self, tx_id: bytes) -> bytes | None:
        """A transaction of this or the previous height's proposals."""
        found = self.held.get(tx_id)
        return found if found is not None else self.held_before.get(tx_id)

    def hold(self, proposal: Proposal) -> None:
        self.held.update(index_txs(proposal.block.txs))

    def wait(self, compact: CompactProposal, received_ms: int) -> bool:
        """Keep `compact` waiting for its transactions; False if it is new and as many as
        `MAX_AWAITING` wait already (then it is dropped, as a proposal that never came)."""
        key = (compact.round, compact.block_hash)
        if key not in self.awaiting and len(self.awaiting) >= MAX_AWAITING:
            return False
        self.awaiting.setdefault(key, (compact, received_ms))
        return True

    def get_missing(
        self, key: tuple[int, bytes], get_tx: GetTx
    ) -> tuple[CompactProposal, tuple[bytes, ...]] | None:
        """The compact proposal waiting under `key` and the ids it still lacks, if one
        waits and lacks any."""
        waiting = self.awaiting.get(key)
        if waiting is None:
            return None
        try:
            waiting[0].assemble(get_tx)
        except MissingTxs as exc:
            return waiting[0], exc.tx_ids
        return None

    def add(
        self, txs: Sequence[bytes], get_tx: GetTx
    ) -> list[tuple[CompactProposal, Proposal, int]]:
        """Transactions for the compact proposals waiting (any other is ignored); those now
        complete, rebuilt with `get_tx` and no longer waiting, each with its arrival."""
        wanted = {i for c, _ in self.awaiting.values() for i in c.tx_ids if i is not None}
        for tx_id, tx in index_txs(txs).items():
            if tx_id in wanted:
                self.held[tx_id] = tx
        complete = []
        for key, (compact, received_ms) in list(self.awaiting.items()):
            try:
                proposal = compact.assemble(get_tx)
            except MissingTxs:
                continue
            del self.awaiting[key]
            complete.append((compact, proposal, received_ms))
        return complete

    def start_height(self) -> None:
        self.held_before, self.held = self.held, {}
        self.awaiting.clear()
