"""A committed block as the API shows it: to anyone, its header, how many transactions
of each kind it holds and its commit certificate (what a light client needs); to the
operator listener, also the block's bytes, from which every transaction can be read.

The header commits to the transactions by `txs_hash` only, so the public view names no
member, trade or transaction hash (which would open `GET /v1/txs/{hash}`)."""

from __future__ import annotations

from collections import Counter

from clearing.tx import get_tx_kind
from consensus.types import Block
from node.api.bodies import hex0x
from node.storage import StoredBlock


def get_block_view(stored: StoredBlock, *, full: bool) -> dict[str, object]:
    block = Block.decode(stored.block)
    header = block.header
    view: dict[str, object] = {
        "height": stored.height,
        "hash": hex0x(block.hash),
        "chain_id": header.chain_id,
        "time_ms": header.time_ms,
        "prev_block_hash": hex0x(header.prev_block_hash),
        "prev_state_root": hex0x(header.prev_state_root),
        "state_root": hex0x(stored.state_root),
        "txs_hash": hex0x(header.txs_hash),
        "proposer": hex0x(header.proposer),
        "validators_hash": hex0x(header.validators_hash),
        "next_validators_hash": hex0x(header.next_validators_hash),
        "txs": len(block.txs),
        "tx_kinds": count_kinds(block.txs),
        "evidence": len(block.evidence),
        "cert": hex0x(stored.cert),
    }
    if full:
        view["block"] = hex0x(stored.block)
    return view


def count_kinds(txs: tuple[bytes, ...]) -> dict[str, int]:
    """Transactions per record type ("TradeBatch": 3), read from each envelope's head (a
    block of the largest batches is not decoded for a header); one a proposer let in
    malformed (clearing refused it) counts as "undecodable"."""
    return dict(sorted(Counter(get_tx_kind(tx) for tx in txs).items()))
