"""A request's stream negotiated lazily (node/p2p/lazy_stream.py): between real hosts the
request leaves with multistream-select's header and its protocol and is answered, and a
protocol the peer does not serve is refused by name, nobody scored down, the link kept
for the next request; against a scripted peer, one write out, an answer that is wrong,
cut or oversized resets the stream, and a reset after the header's echo is a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from libp2p.io.exceptions import IncompleteReadError, MessageTooLarge
from libp2p.network.stream.exceptions import StreamReset
from libp2p.peer.id import ID
from libp2p.utils import encode_delim, encode_uvarint

from node.p2p import P2PNode, RequestFailed
from node.p2p.lazy_stream import MAX_LINE_BYTES, MULTISELECT, NegotiationFailed, open_stream
from tests.node.p2p.support import line

ECHO = "/test/echo/1"


async def reverse(peer: str, data: bytes) -> bytes:
    return data[::-1]


async def ask_echo(asker: P2PNode, server: P2PNode, payload: bytes) -> bytes:
    return await asker.request(server.peer_id, ECHO, payload, 1 << 20, 1 << 20)


async def test_a_request_leaves_with_its_negotiation_and_is_answered() -> None:
    async with line("a", "b") as (a, b):
        b.set_request_handler(ECHO, reverse, 1 << 20)
        assert await ask_echo(a, b, b"hello") == b"olleh"
        large = bytes(range(256)) * 2_000  # past one muxer window: the rest follows it
        assert await ask_echo(a, b, large) == large[::-1]


async def test_a_protocol_the_peer_does_not_serve_is_refused_by_name() -> None:
    async with line("a", "b") as (a, b):
        # py-libp2p's listener resets the stream after its "na", and the reset can overtake it
        refused = f"{ECHO} refused: the peer (answered b'na'|reset the stream before answering)"
        with pytest.raises(RequestFailed, match=refused):
            await ask_echo(a, b, b"hello")
        b.set_request_handler(ECHO, reverse, 1 << 20)
        assert await ask_echo(a, b, b"hello") == b"olleh"
        assert a.scores.get_score(b.peer_id) >= 0 and b.scores.get_score(a.peer_id) >= 0


@dataclass
class ScriptedStream:
    """A stream whose peer's bytes are given (then its reset, if `reset_after`): what was
    written, and whether it was reset."""

    incoming: bytes
    reset_after: bool = False
    written: bytes = b""
    protocol: str | None = None
    was_reset: bool = False

    async def write(self, data: bytes) -> None:
        self.written += data

    async def read(self, n: int) -> bytes:
        if not self.incoming and self.reset_after:
            raise StreamReset("the peer reset the stream")
        data, self.incoming = self.incoming[:n], self.incoming[n:]
        return data

    async def reset(self) -> None:
        self.was_reset = True

    def set_protocol(self, protocol: str) -> None:
        self.protocol = protocol


@dataclass
class ScriptedHost:
    stream: ScriptedStream
    opened: list[ID] = field(default_factory=list)

    def get_network(self) -> ScriptedHost:
        return self

    async def new_stream(self, peer: ID) -> ScriptedStream:
        self.opened.append(peer)
        return self.stream


PEER = ID(b"peer")
HEADER = encode_delim(MULTISELECT.encode())


async def test_the_negotiation_and_the_request_leave_in_one_write() -> None:
    host = ScriptedHost(ScriptedStream(HEADER + encode_delim(ECHO.encode()) + b"answer"))
    stream = await open_stream(host, PEER, ECHO, b"request")
    assert host.opened == [PEER] and stream is host.stream and stream.protocol == ECHO
    assert host.stream.written == HEADER + encode_delim(ECHO.encode()) + b"request"
    assert await host.stream.read(6) == b"answer"  # left for the caller, unread


@pytest.mark.parametrize(
    ("incoming", "error", "match"),
    [
        (HEADER + encode_delim(b"na"), NegotiationFailed, "refused: the peer answered b'na'"),
        (encode_delim(b"/multistream/2.0.0"), NegotiationFailed, "answered b'/multistream/2"),
        (HEADER + encode_delim(b"/test/other/1"), NegotiationFailed, "answered b'/test/other/1'"),
        (HEADER + encode_delim(ECHO.encode())[:-1], IncompleteReadError, "expected 13, got 12"),
        (encode_uvarint(MAX_LINE_BYTES + 1) + b"x" * 8, MessageTooLarge, "exceeds"),
    ],
)
async def test_a_wrong_cut_or_oversized_answer_resets_the_stream(
    incoming: bytes, error: type[Exception], match: str
) -> None:
    host = ScriptedHost(ScriptedStream(incoming))
    with pytest.raises(error, match=match):
        await open_stream(host, PEER, ECHO, b"request")
    assert host.stream.was_reset and host.stream.protocol is None


@pytest.mark.parametrize(
    ("incoming", "error", "match"),
    [
        (HEADER, NegotiationFailed, f"{ECHO} refused: the peer reset the stream before answering"),
        (b"", StreamReset, "the peer reset the stream"),  # not a multistream peer's refusal
    ],
)
async def test_a_reset_after_the_headers_echo_is_a_refusal(
    incoming: bytes, error: type[Exception], match: str
) -> None:
    host = ScriptedHost(ScriptedStream(incoming, reset_after=True))
    with pytest.raises(error, match=match) as raised:
        await open_stream(host, PEER, ECHO, b"request")
    assert host.stream.was_reset and host.stream.protocol is None
    if error is NegotiationFailed:
        assert raised.value.protocol == ECHO and raised.value.answered is None
