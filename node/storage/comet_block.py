"""A block CometBFT committed, as the node stores it: what the clearing app applied
(height, time, transactions, evidence as the keys it jails), CometBFT's hash and
proposer address for it, and which of its transactions the block carried as references
(node/storage/comet_compact.py) (`CometBlockRecord`, the stored block); and, once CometBFT has
it, the block's header and commit as its RPC serves them (`SignedHeader`, the stored
certificate: what a report's anchor is made of, node/reports/anchor.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clearing.context import Equivocation
from clearing.limits import MAX_BLOCK_TXS
from lightclient.cometbft import CometCommit, CometHeader
from lightclient.crypto import HASH_BYTES, PUBLIC_KEY_BYTES
from node.storage.comet_compact import restore_items
from records.codec import (
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_EVIDENCE_PER_BLOCK,
    MAX_INT64,
    WIRE_VERSION,
    DecodeError,
    expect_bytes,
    expect_int,
    expect_list,
    expect_versioned,
    pack,
    unpack,
)

ADDRESS_BYTES = 20
MAX_RECORD_BYTES = 64 << 20
"""Above any block CometBFT may commit under its genesis's max_bytes (node/cometbft/home.py)."""


@dataclass(frozen=True)
class SignedHeader:
    header: CometHeader
    commit: CometCommit

    def encode(self) -> bytes:
        return pack([WIRE_VERSION, self.header.to_wire(), self.commit.to_wire()])

    @staticmethod
    def decode(data: bytes) -> SignedHeader:
        items = expect_versioned(
            unpack(data, "signed header", MAX_CONSENSUS_MESSAGE_BYTES), "signed header", 3
        )
        return SignedHeader(CometHeader.from_wire(items[1]), CometCommit.from_wire(items[2]))


@dataclass(frozen=True)
class CometBlockRecord:
    height: int
    time_ms: int
    block_hash: bytes
    proposer_address: bytes
    txs: tuple[bytes, ...]
    evidence: tuple[Equivocation, ...] = ()
    ref_indices: tuple[int, ...] = ()
    """The places, ascending, of the transactions the block named by reference."""

    def get_items(self) -> list[bytes]:
        """The block's transactions as CometBFT holds them (its `data_hash` is theirs)."""
        return restore_items(self.txs, frozenset(self.ref_indices))

    def to_wire(self) -> list[Any]:
        return [
            WIRE_VERSION, self.height, self.time_ms, self.block_hash, self.proposer_address,
            list(self.txs), [[e.validator, e.height] for e in self.evidence],
            list(self.ref_indices),
        ]  # fmt: skip

    def encode(self) -> bytes:
        return pack(self.to_wire())

    @staticmethod
    def decode(data: bytes) -> CometBlockRecord:
        raw = unpack(data, "cometbft block", MAX_RECORD_BYTES)
        items = expect_versioned(raw, "cometbft block", 8)
        evidence = expect_list(items[6], "cometbft block.evidence", max_len=MAX_EVIDENCE_PER_BLOCK)
        txs = expect_list(items[5], "cometbft block.txs", max_len=MAX_BLOCK_TXS)
        ref_indices = tuple(
            expect_int(index, "cometbft block.ref_index", 0, len(txs) - 1)
            for index in expect_list(items[7], "cometbft block.ref_indices", max_len=len(txs))
        )
        if list(ref_indices) != sorted(set(ref_indices)):
            raise DecodeError("cometbft block.ref_indices", "not strictly ascending")
        return CometBlockRecord(
            expect_int(items[1], "cometbft block.height", 1, MAX_INT64),
            expect_int(items[2], "cometbft block.time_ms", 0, MAX_INT64),
            expect_bytes(items[3], "cometbft block.hash", HASH_BYTES),
            expect_bytes(items[4], "cometbft block.proposer", ADDRESS_BYTES),
            tuple(expect_bytes(tx, "cometbft block.tx", max_len=MAX_RECORD_BYTES) for tx in txs),
            tuple(
                Equivocation(expect_bytes(key, "evidence.validator", PUBLIC_KEY_BYTES),
                             expect_int(height, "evidence.height", 1, MAX_INT64))
                for key, height in (expect_list(e, "evidence", 2) for e in evidence)
            ),
            ref_indices,
        )  # fmt: skip
