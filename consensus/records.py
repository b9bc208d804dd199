"""What the engine writes to the WAL: inputs, own signatures, height markers.

Record = msgpack `[version, kind, body]`. Inputs are logged before they are
applied, so replaying the records after the last height marker rebuilds the
exact consensus state (locks included) the node had before a crash.
"""

from __future__ import annotations

from typing import Any

from consensus.inputs import (
    BlockPrepared,
    BlockValidated,
    ProposalReceived,
    TimeoutFired,
    VoteReceived,
)
from consensus.signer import WAL_KIND_SIGNED
from consensus.types import DuplicateVoteEvidence, Proposal, Step, Vote
from lightclient.crypto import HASH_BYTES
from records.codec import (
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_INT64,
    WIRE_VERSION,
    DecodeError,
    expect_bool,
    expect_bytes,
    expect_int,
    expect_list,
    expect_versioned,
    pack,
    unpack,
)

WAL_KIND_INPUT = 1
WAL_KIND_HEIGHT = 3

LoggedInput = ProposalReceived | VoteReceived | TimeoutFired | BlockPrepared | BlockValidated


def encode_input_record(inp: LoggedInput) -> bytes:
    body: list[Any]
    if isinstance(inp, ProposalReceived) and inp.received_ms is None:
        body = [1, inp.proposal.to_fields()]
    elif isinstance(inp, ProposalReceived):
        body = [6, [inp.proposal.to_fields(), inp.received_ms]]
    elif isinstance(inp, VoteReceived):
        body = [2, inp.vote.to_fields()]
    elif isinstance(inp, TimeoutFired):
        body = [3, [inp.height, inp.round, int(inp.step)]]
    elif isinstance(inp, BlockPrepared):
        evidence = [e.to_fields() for e in inp.evidence]
        body = [4, [inp.height, inp.round, inp.time_ms, list(inp.txs), evidence]]
    else:
        body = [5, [inp.height, inp.block_hash, inp.valid]]
    return pack([WIRE_VERSION, WAL_KIND_INPUT, body])


def encode_height_record(height: int) -> bytes:
    return pack([WIRE_VERSION, WAL_KIND_HEIGHT, height])


def decode_record(payload: bytes) -> tuple[int, Any]:
    """(kind, body): body is a LoggedInput, a height, or the raw signed-record body."""
    items = expect_versioned(
        unpack(payload, "wal.record", MAX_CONSENSUS_MESSAGE_BYTES), "wal.record", 3
    )
    kind = expect_int(items[1], "wal.record.kind", 1, 3)
    if kind == WAL_KIND_HEIGHT:
        return kind, expect_int(items[2], "wal.height", 1, MAX_INT64)
    if kind == WAL_KIND_SIGNED:
        return kind, items[2]
    return kind, _decode_input(items[2])


def _decode_input(body: Any) -> LoggedInput:
    tag, data = expect_list(body, "wal.input", 2)
    if tag == 1:
        return ProposalReceived(Proposal.from_fields(data))
    if tag == 6:
        fields, received_ms = expect_list(data, "wal.proposal", 2)
        return ProposalReceived(
            Proposal.from_fields(fields), expect_int(received_ms, "wal.received_ms", 0, MAX_INT64)
        )
    if tag == 2:
        return VoteReceived(Vote.from_fields(data))
    if tag == 3:
        h, r, s = expect_list(data, "wal.timeout", 3)
        return TimeoutFired(
            expect_int(h, "wal.timeout.height", 1, MAX_INT64),
            expect_int(r, "wal.timeout.round", 0, MAX_INT64),
            Step(expect_int(s, "wal.timeout.step", 1, 3)),
        )
    if tag == 4:
        h, r, t, txs, ev = expect_list(data, "wal.prepared", 5)
        return BlockPrepared(
            expect_int(h, "wal.prepared.height", 1, MAX_INT64),
            expect_int(r, "wal.prepared.round", 0, MAX_INT64),
            expect_int(t, "wal.prepared.time_ms", 0, MAX_INT64),
            tuple(expect_bytes(tx, "wal.prepared.tx") for tx in expect_list(txs, "wal.txs")),
            tuple(DuplicateVoteEvidence.from_fields(e) for e in expect_list(ev, "wal.evidence")),
        )
    if tag == 5:
        h, block_hash, valid = expect_list(data, "wal.validated", 3)
        return BlockValidated(
            expect_int(h, "wal.validated.height", 1, MAX_INT64),
            expect_bytes(block_hash, "wal.validated.hash", HASH_BYTES),
            expect_bool(valid, "wal.validated.valid"),
        )
    raise DecodeError("wal.input", f"unknown input tag {tag!r}")
