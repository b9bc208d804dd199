"""A request's stream negotiated lazily (node/p2p/lazy_stream.py), between real hosts: the
request leaves with multistream-select's header and its protocol and is answered; a
protocol the peer does not serve is refused by name, nobody is scored down for it, and
the link serves the next request."""

from __future__ import annotations

import pytest

from node.p2p import P2PNode, RequestFailed
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
        with pytest.raises(RequestFailed, match=f"{ECHO} refused: the peer answered b'na'"):
            await ask_echo(a, b, b"hello")
        b.set_request_handler(ECHO, reverse, 1 << 20)
        assert await ask_echo(a, b, b"hello") == b"olleh"
        assert a.scores.get_score(b.peer_id) >= 0 and b.scores.get_score(a.peer_id) >= 0
