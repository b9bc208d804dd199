"""A CometBFT block's transactions, compact: a transaction the proposer's mempool admitted
travels in the block as a reference to its body (the body's SHA-256), which every
validator's mempool received through CometBFT's own gossip; the rest (what the proposal
sources add: node/clearing_app.py) travel in full.

Across regions a block's parts were on CometBFT's critical path carrying every body a
second time (the mempool had carried them once), and a lost segment stalls a part's
stream for a round trip: with the bodies as references, `python -m bench wan --engine
cometbft` (four regions, 0.5 % loss) sustained 3,908-3,994 trades/s in three runs, 2,651
before (docs/production.md).

An item of a CometBFT block is a clearing transaction or `REF_TAG` followed by the
SHA-256 of one. REF_TAG is 0xc1, the one byte msgpack never writes, so no clearing
transaction (a msgpack list) starts with it: an item is one or the other by its first
byte. The block's `data_hash` is CometBFT's, over the items; the node's stored record
keeps the bodies with the indices of the referenced ones (node/storage/comet_block.py), from
which the items, and so the data hash, follow.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from consensus.compact import TxLookup, compute_tx_hash, resolve_tx_ids
from lightclient.crypto import HASH_BYTES

REF_TAG = b"\xc1"
REF_BYTES = len(REF_TAG) + HASH_BYTES


def make_ref(tx: bytes) -> bytes:
    return REF_TAG + compute_tx_hash(tx)


def read_ref(item: bytes) -> bytes | None:
    """The hash `item` refers to, or None if the item is a transaction in full."""
    if len(item) == REF_BYTES and item[:1] == REF_TAG:
        return item[1:]
    return None


def compact_txs(txs: Sequence[bytes], is_held: Callable[[bytes], bool]) -> list[bytes]:
    """`txs` as a block's items: a reference for each transaction whose hash `is_held`
    (what the mempool admitted, hence gossiped to the other validators)."""
    return [make_ref(tx) if is_held(compute_tx_hash(tx)) else tx for tx in txs]


def resolve_items(items: Sequence[bytes], lookup: TxLookup) -> list[bytes]:
    """The block's transactions: each reference replaced by the body `lookup` gives;
    MissingTxs naming, each once, the hashes it does not (as our engine's compact
    proposals resolve theirs)."""
    refs = [read_ref(item) for item in items]
    in_full = (item for item, ref in zip(items, refs, strict=True) if ref is None)
    return resolve_tx_ids(refs, in_full, lookup)


def get_referenced(items: Sequence[bytes], txs: Sequence[bytes]) -> dict[bytes, bytes]:
    """The bodies of `txs` (the block's, resolved) that `items` named by reference, by the
    hash each reference carries: a block's bodies indexed without hashing them again."""
    return {ref: tx for item, tx in zip(items, txs, strict=True) if (ref := read_ref(item))}


def get_ref_indices(items: Sequence[bytes]) -> tuple[int, ...]:
    return tuple(index for index, item in enumerate(items) if read_ref(item) is not None)


def restore_items(txs: Sequence[bytes], ref_indices: Collection[int]) -> list[bytes]:
    """The block's items from its transactions and which of them it referred to."""
    return [make_ref(tx) if index in ref_indices else tx for index, tx in enumerate(txs)]
