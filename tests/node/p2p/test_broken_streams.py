"""A peer that goes away mid-exchange (a restart, a kill -9) costs nobody points, and a
message that turns stale between validation and delivery does not stop the node."""

from __future__ import annotations

from collections import OrderedDict

import msgpack
import pytest
import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from node.p2p import Offence, RequestFailed, Topic, open_p2p
from tests.node.p2p.support import (
    MAX_NOTE,
    TOPICS,
    NoteError,
    config,
    decode_note,
    line,
    note,
    receive,
)

ECHO = "/clearnode/echo/1"
HALF = "/clearnode/half/1"


async def echo(peer: str, request: bytes) -> bytes:
    return request


async def test_an_asker_that_goes_away_mid_request_costs_nothing() -> None:
    async with line("server", "asker") as (server, asker):
        server.set_request_handler(ECHO, echo, max_request_bytes=64)
        stream = await asker._host.new_stream(ID.from_base58(server.peer_id), [TProtocol(ECHO)])
        await stream.write((10).to_bytes(4, "big") + b"abc")  # 3 of 10 bytes, then gone
        await stream.close()
        with trio.fail_after(10):
            while server.counters["requests", "broken"] == 0:
                await trio.sleep(0.01)
        assert server.scores.get_score(asker.peer_id) == 0
        assert await asker.request(server.peer_id, ECHO, b"again", 64, 64) == b"again"


async def test_a_server_that_goes_away_mid_answer_costs_nothing() -> None:
    async def half(stream: INetStream) -> None:
        await stream.read(64)
        await stream.write((100).to_bytes(4, "big") + b"x" * 10)  # 10 of 100 bytes
        await stream.close()

    async with line("server", "asker") as (server, asker):
        server._host.set_stream_handler(TProtocol(HALF), half)
        with pytest.raises(RequestFailed, match="stream broke"):
            await asker.request(server.peer_id, HALF, b"hi", 64, 1024)
        assert asker.scores.get_score(server.peer_id) == 0
        assert asker.counters["requests", "broken"] == 1


async def test_an_oversized_answer_still_costs_the_server() -> None:
    async def huge(stream: INetStream) -> None:
        await stream.read(64)
        await stream.write((1 << 20).to_bytes(4, "big"))
        await stream.close()

    async with line("server", "asker") as (server, asker):
        server._host.set_stream_handler(TProtocol(HALF), huge)
        with pytest.raises(RequestFailed):
            await asker.request(server.peer_id, HALF, b"hi", 64, 1024)
        assert asker.scores.get_score(server.peer_id) == -Offence.OVERSIZED.penalty


class Forgetful(OrderedDict[bytes, object]):
    """A decoded-value stash that keeps nothing, as a full one pushes values out."""

    def __setitem__(self, key: bytes, value: object) -> None:
        return None


class NowStale(NoteError):
    """Valid at the first hop, stale by the time it is delivered."""


async def test_a_message_stale_by_delivery_is_dropped_and_the_node_goes_on() -> None:
    checked: dict[str, int] = {}

    def decode_once(data: bytes) -> str:
        text = decode_note(data)
        checked[text] = checked.get(text, 0) + 1
        if checked[text] > 1:
            raise NowStale(f"{text!r} is stale by now")
        return text

    ours = [Topic("tx", MAX_NOTE, decode_once, ignores=(NowStale,))]
    async with open_p2p(config("a"), TOPICS) as a, open_p2p(config("b"), ours) as b:
        await b.connect(a.listen_addrs()[0])
        await a.wait_for_mesh("tx", 1)
        b._gossip._stash = Forgetful()
        await a.publish("tx", note("first"))
        with trio.fail_after(10):
            while b.counters["tx", "dropped"] == 0:
                await trio.sleep(0.01)
        b._gossip._stash = OrderedDict()
        await a.publish("tx", msgpack.packb([1, "second"]))
        assert await receive(b, "tx") == (a.peer_id, "second")
