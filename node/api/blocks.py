"""A committed block as the API shows it: to anyone, its header, how many transactions
of each kind it holds and its commit certificate (what a light client needs); to the
operator listener, also the block's bytes, from which every transaction can be read.
On a CometBFT network the node stores what the app applied (node/storage/comet_block.py):
its height, time, CometBFT's hash and proposer address, and the same counts; CometBFT's
header and commit are CometBFT's to serve.

The header commits to the transactions by `txs_hash` only, so the public view names no
member, trade or transaction hash (which would open `GET /v1/txs/{hash}`)."""

from __future__ import annotations

from collections import Counter

from clearing.transition.tx import get_tx_kind
from consensus.types import Block
from lightclient.anchor import COMETBFT, OUR_ENGINE
from node.api.bodies import hex0x
from node.storage import StoredBlock
from node.storage.comet_block import CometBlockRecord


def get_block_view(stored: StoredBlock, engine: str, *, full: bool) -> dict[str, object]:
    view = get_comet_block_view(stored) if engine == COMETBFT else get_our_block_view(stored)
    if full:
        view["block"] = hex0x(stored.block)
    return view


def get_comet_block_view(stored: StoredBlock) -> dict[str, object]:
    record = CometBlockRecord.decode(stored.block)
    return {
        "height": stored.height,
        "engine": COMETBFT,
        "hash": hex0x(record.block_hash),
        "time_ms": record.time_ms,
        "state_root": hex0x(stored.state_root),
        "proposer": hex0x(record.proposer_address),
        "txs": len(record.txs),
        "tx_kinds": count_kinds(record.txs),
        "evidence": len(record.evidence),
    }


def get_our_block_view(stored: StoredBlock) -> dict[str, object]:
    block = Block.decode(stored.block)
    header = block.header
    view: dict[str, object] = {
        "height": stored.height,
        "engine": OUR_ENGINE,
        "hash": hex0x(block.hash),
        "chain_id": header.chain_id,
        "time_ms": header.time_ms,
        "prev_block_hash": hex0x(header.prev_block_hash),
        "prev_state_root": hex0x(header.prev_state_root),
        "state_root": hex0x(stored.state_root) if stored.state_root else None,
        "txs_hash": hex0x(header.txs_hash),
        "proposer": hex0x(header.proposer),
        "validators_hash": hex0x(header.validators_hash),
        "next_validators_hash": hex0x(header.next_validators_hash),
        "txs": len(block.txs),
        "tx_kinds": count_kinds(block.txs),
        "evidence": len(block.evidence),
        "cert": hex0x(stored.cert),
    }
    return view


def count_kinds(txs: tuple[bytes, ...]) -> dict[str, int]:
    """Transactions per record type ("TradeBatch": 3), read from each envelope's head (a
    block of the largest batches is not decoded for a header); one a proposer let in
    malformed (clearing refused it) counts as "undecodable"."""
    return dict(sorted(Counter(get_tx_kind(tx) for tx in txs).items()))
