"""A stream whose first message leaves with its protocol negotiation: one round trip.

py-libp2p's `new_stream` runs multistream-select as a dialogue: the header, its echo, the
protocol, its echo, and only then the first message, so a request is answered after
three round trips (across regions up to two thirds of a second, before any loss). A
client that proposes one protocol need not wait: it writes the header, the protocol and
its first message at once and reads the two echoes before the answer (go-libp2p's lazy
negotiation; the listener reads each line exactly, so the message waits for the
protocol's handler). A peer that does not speak the protocol answers "na" and drops the
rest: NegotiationFailed.

py-libp2p's listener, having answered "na", reads the request as its next line, fails and
resets the stream; its yamux drops a reset stream's unread bytes, so the reset can
overtake the "na". A reset after the header's echo is taken for that refusal (our
handlers close their streams, never reset them).
"""

from __future__ import annotations

import contextlib
from typing import Any

import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamReset
from libp2p.peer.id import ID
from libp2p.utils import encode_delim, read_varint_prefixed_bytes_limited

MULTISELECT = "/multistream/1.0.0"
MAX_LINE_BYTES = 1024
"""The longest negotiation line read (ours are a few dozen bytes): a peer's length prefix
claiming more is refused before anything is read."""
RESET_S = 1.0
"""How long a failed stream's reset may take: on a link that stopped delivering it may
never finish, and the caller must not wait on it longer."""


class NegotiationFailed(Exception):
    """The peer did not agree to the protocol (or did not speak multistream-select)."""

    def __init__(self, protocol: str, answered: bytes | None) -> None:
        said = (
            f"the peer answered {answered[:64].rstrip()!r}"
            if answered is not None
            else "the peer reset the stream before answering it"
        )
        super().__init__(f"{protocol} refused: {said}")
        self.protocol = protocol
        self.answered = answered
        """The peer's line, or None when its reset overtook it."""


async def open_stream(host: Any, peer: ID, protocol: str, first: bytes) -> INetStream:
    """A new stream to `peer` speaking `protocol`, `first` written on it, the negotiation's
    echoes read; any failure resets the stream and is raised (the library's dial, muxer
    and stream errors have no common base)."""
    stream: INetStream = await host.get_network().new_stream(peer)
    try:
        await stream.write(
            encode_delim(MULTISELECT.encode()) + encode_delim(protocol.encode()) + first
        )
        await read_echo(stream, protocol, MULTISELECT)
        try:
            await read_echo(stream, protocol, protocol)
        except StreamReset as exc:
            raise NegotiationFailed(protocol, None) from exc
    except BaseException:
        with trio.move_on_after(RESET_S, shield=True), contextlib.suppress(Exception):
            await stream.reset()  # gone either way: an error here says nothing more
        raise
    stream.set_protocol(TProtocol(protocol))
    return stream


async def read_echo(stream: INetStream, protocol: str, expected: str) -> None:
    """Reads one negotiation line: NegotiationFailed for `protocol` unless it is `expected`."""
    answered = await read_varint_prefixed_bytes_limited(stream, MAX_LINE_BYTES)
    if answered != expected.encode() + b"\n":
        raise NegotiationFailed(protocol, answered)
