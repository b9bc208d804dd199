"""Signer guard: never sign two different messages for one (height, round, step).

Each signature is first written to the WAL with fsync, so the guard's memory
survives a crash: after restart the same request gets the same signature and
a different one is refused.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from consensus.types import Proposal, Step, Vote
from consensus.wal import Wal
from lightclient.crypto import PrivateKey
from records.codec import (
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_INT64,
    WIRE_VERSION,
    expect_bytes,
    expect_int,
    expect_list,
    pack,
    unpack,
)

WAL_KIND_SIGNED = 2

Slot = tuple[int, int, int]


class DoubleSignRefused(Exception):
    def __init__(self, slot: Slot, reason: str) -> None:
        height, round_, step = slot
        super().__init__(
            f"refusing to sign at height {height} round {round_} step {Step(step).name}: {reason}"
        )
        self.slot = slot
        self.reason = reason


def encode_signed_record(slot: Slot, sign_bytes: bytes, signature: bytes) -> bytes:
    return pack([WIRE_VERSION, WAL_KIND_SIGNED, [*slot, sign_bytes, signature]])


def decode_signed_record(body: Any) -> tuple[Slot, bytes, bytes]:
    items = expect_list(body, "wal.signed", 5)
    slot = (
        expect_int(items[0], "wal.signed.height", 1, MAX_INT64),
        expect_int(items[1], "wal.signed.round", 0, MAX_INT64),
        expect_int(items[2], "wal.signed.step", 1, 3),
    )
    sign_bytes = expect_bytes(items[3], "wal.signed.bytes", max_len=1024)
    return slot, sign_bytes, expect_bytes(items[4], "wal.signed.signature", 64)


class Signer:
    """Signs our votes and proposals through the WAL.

    Invariant: for each slot at most one distinct sign-bytes value is ever
    signed, and slots are signed in non-decreasing order.
    """

    def __init__(self, key: PrivateKey, chain_id: str, wal: Wal) -> None:
        self.key = key
        self.chain_id = chain_id
        self.wal = wal
        self.signed: dict[Slot, tuple[bytes, bytes]] = {}
        self.last: Slot = (0, 0, 0)
        for record in wal.records:
            items = unpack(record, "wal.record", MAX_CONSENSUS_MESSAGE_BYTES)
            if isinstance(items, list) and len(items) == 3 and items[1] == WAL_KIND_SIGNED:
                self._remember(*decode_signed_record(items[2]))

    def sign_vote(self, vote: Vote) -> Vote:
        slot = (vote.height, vote.round, int(vote.step))
        return replace(vote, signature=self._sign(slot, vote.sign_bytes(self.chain_id)))

    def sign_proposal(self, proposal: Proposal) -> Proposal:
        slot = (proposal.height, proposal.round, int(Step.PROPOSE))
        return replace(proposal, signature=self._sign(slot, proposal.sign_bytes(self.chain_id)))

    def _sign(self, slot: Slot, sign_bytes: bytes) -> bytes:
        previous = self.signed.get(slot)
        if previous is not None:
            if previous[0] != sign_bytes:
                raise DoubleSignRefused(slot, "already signed a different message")
            return previous[1]
        if slot < self.last:
            raise DoubleSignRefused(slot, f"already signed the later slot {self.last}")
        signature = self.key.sign(sign_bytes)
        self.wal.append(encode_signed_record(slot, sign_bytes, signature), sync=True)
        self._remember(slot, sign_bytes, signature)
        return signature

    def _remember(self, slot: Slot, sign_bytes: bytes, signature: bytes) -> None:
        self.signed[slot] = (sign_bytes, signature)
        self.last = max(self.last, slot)

    def prune_below(self, height: int) -> None:
        """Forget slots of finished heights (they can never be signed again: `last`)."""
        self.signed = {s: v for s, v in self.signed.items() if s[0] >= height}
