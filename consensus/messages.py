"""The consensus wire envelope: what peers send each other.

`encode_message` / `decode_message` wrap each message as
`[version, kind, payload]`; the transport carries only these bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus.types import Block, CommitCertificate, Proposal, Vote
from lightclient.codec import WIRE_VERSION, DecodeError, expect_int, expect_versioned, pack, unpack


@dataclass(frozen=True)
class SyncRequest:
    """Ask a peer for the committed block at `height` with its commit certificate."""

    height: int

    def to_wire(self) -> list[Any]:
        return [WIRE_VERSION, self.height]

    @staticmethod
    def from_wire(obj: Any) -> SyncRequest:
        items = expect_versioned(obj, "sync_request", 2)
        return SyncRequest(expect_int(items[1], "sync_request.height", 1))


@dataclass(frozen=True)
class SyncResponse:
    """A committed block and the certificate of more than 2/3 precommits for it."""

    block: Block
    certificate: CommitCertificate

    def to_wire(self) -> list[Any]:
        return [WIRE_VERSION, self.block.to_wire(), self.certificate.to_wire()]

    @staticmethod
    def from_wire(obj: Any) -> SyncResponse:
        items = expect_versioned(obj, "sync_response", 3)
        return SyncResponse(Block.from_wire(items[1]), CommitCertificate.from_wire(items[2]))


@dataclass(frozen=True)
class Status:
    """A peer's current height: lets a lagging node notice it is behind."""

    height: int

    def to_wire(self) -> list[Any]:
        return [WIRE_VERSION, self.height]

    @staticmethod
    def from_wire(obj: Any) -> Status:
        items = expect_versioned(obj, "status", 2)
        return Status(expect_int(items[1], "status.height", 0))


Message = Proposal | Vote | SyncRequest | SyncResponse | Status

_KINDS: tuple[tuple[int, type[Any]], ...] = (
    (1, Proposal),
    (2, Vote),
    (3, SyncRequest),
    (4, SyncResponse),
    (5, Status),
)
_KIND_OF = {cls: kind for kind, cls in _KINDS}
_CLASS_OF = dict(_KINDS)


def encode_message(message: Message) -> bytes:
    return pack([WIRE_VERSION, _KIND_OF[type(message)], message.to_wire()])


def decode_message(data: bytes) -> Message:
    """Decode an envelope; raises DecodeError for anything malformed."""
    items = expect_versioned(unpack(data, "message"), "message", 3)
    kind = expect_int(items[1], "message.kind", 1, len(_KINDS))
    try:
        message: Message = _CLASS_OF[kind].from_wire(items[2])
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError("message", str(exc)) from exc
    return message
