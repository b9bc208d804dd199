"""The consensus wire envelope: what peers send each other.

`encode_message` / `decode_message` wrap each message as
`[version, kind, payload]`; the transport carries only these bytes. A proposal travels
in full or compact (`consensus.compact`: the transactions peers hold as their ids). Catching up
is not a consensus message: a host fetches certified blocks its own way and hands
them to `Engine.apply_synced_block`.
"""

from __future__ import annotations

from typing import Any

from consensus.compact import CompactProposal
from consensus.types import Proposal, Vote
from records.codec import (
    MAX_CONSENSUS_MESSAGE_BYTES,
    WIRE_VERSION,
    DecodeError,
    expect_int,
    expect_versioned,
    pack,
    unpack,
)

Message = Proposal | Vote | CompactProposal

_KINDS: tuple[tuple[int, type[Any]], ...] = (
    (1, Proposal),
    (2, Vote),
    (6, CompactProposal),
)
"""Kinds 3 to 5 carried sync messages once (sync now travels over request streams): they
are not given again, so an old peer's message can never read as a new kind."""
_KIND_OF = {cls: kind for kind, cls in _KINDS}
_CLASS_OF = dict(_KINDS)


def encode_message(message: Message) -> bytes:
    return pack([WIRE_VERSION, _KIND_OF[type(message)], message.to_fields()])


def decode_message(data: bytes) -> Message:
    """Decode an envelope; raises DecodeError for anything malformed."""
    items = expect_versioned(unpack(data, "message", MAX_CONSENSUS_MESSAGE_BYTES), "message", 3)
    kind = expect_int(items[1], "message.kind", 1, max(_CLASS_OF))
    if kind not in _CLASS_OF:
        raise DecodeError("message.kind", f"kind {kind} is not a message kind")
    try:
        message: Message = _CLASS_OF[kind].from_fields(items[2])
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError("message", str(exc)) from exc
    return message
