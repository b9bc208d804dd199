"""The WAN bench's links (tests/node/wan.py): a real proxy on loopback delays each way by
half the round trip, keeps the bytes in order, and a lost segment stalls its stream."""

from __future__ import annotations

import json
import random
import socket
import struct
import time
from collections.abc import Sequence
from pathlib import Path

import trio

from bridge.loopback import get_free_port
from tests.node.wan import CUT_FILE, CUT_POLL_S, MIN_RTO_MS, Link, Mesh, Route, serve


def test_a_lost_segment_costs_a_round_trip_and_the_least_retransmission_timeout() -> None:
    rng = random.Random(1)
    assert Link(100).get_delay_s(10_000, rng) == 0.05
    assert Link(100, loss=1.0).get_delay_s(1, rng) == (50 + 100 + MIN_RTO_MS) / 1000
    jittered = [Link(100, jitter_ms=10).get_delay_s(1, rng) for _ in range(200)]
    assert 0.05 <= min(jittered) < max(jittered) <= 0.06
    # a chunk of many segments is more likely to lose one than a chunk of one
    small = sum(Link(100, loss=0.01).get_delay_s(1, rng) > 0.1 for _ in range(2_000))
    large = sum(Link(100, loss=0.01).get_delay_s(65_536, rng) > 0.1 for _ in range(2_000))
    assert small < 60 and large > 600  # about 1 % and 1 - 0.99**46 = 37 %


def test_a_mesh_gives_each_ordered_pair_its_own_route() -> None:
    mesh = Mesh(lambda i, j: Link(10 * (i + j)))
    first, back = mesh.route(0, 1, 5000), mesh.route(1, 0, 6000)
    assert first != back
    assert [(r.target_port, r.link.round_trip_ms) for r in mesh.routes] == [
        (5000, 10), (6000, 10)
    ]  # fmt: skip
    assert [r.ends for r in mesh.routes] == [(0, 1), (1, 0)]


def write_cuts(path: Path, sides: Sequence[list[int]] = (), held: Sequence[list[int]] = ()) -> None:
    """The proxies' cut file as `Proxies` writes it (tests/node/wan.py, CUT_FILE)."""
    path.write_text(json.dumps({"sides": list(sides), "held": list(held)}))


async def echo(stream: trio.SocketStream) -> None:
    async with stream:
        async for data in stream:
            await stream.send_all(data)


async def is_carried(port: int) -> bool:
    """Whether a connection through the proxy at `port` carries a byte there and back."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        try:
            await stream.send_all(b"x")
            return await stream.receive_some() == b"x"
        except trio.BrokenResourceError:
            return False


async def test_a_node_cut_off_loses_its_open_connections_and_gets_none_until_healed(
    tmp_path: Path,
) -> None:
    target, listen, other = get_free_port(), get_free_port(), get_free_port()
    cut_file = tmp_path / CUT_FILE
    routes = [Route(listen, target, Link(2), (0, 1)), Route(other, target, Link(2), (2, 3))]
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(target, host="127.0.0.1")
        nursery.start_soon(trio.serve_listeners, echo, listeners)
        nursery.start_soon(serve, routes, 0, cut_file)
        await trio.sleep(0.2)
        held = await trio.open_tcp_stream("127.0.0.1", listen)
        await held.send_all(b"a")
        assert await held.receive_some() == b"a"
        write_cuts(cut_file, sides=[[1]])  # the dialled end of the first route
        await trio.sleep(4 * CUT_POLL_S)
        with trio.fail_after(2):
            assert await held.receive_some() == b""  # closed by the proxy
        await held.aclose()
        assert not await is_carried(listen)
        assert await is_carried(other)  # a link between two other nodes still carries
        write_cuts(cut_file)
        await trio.sleep(4 * CUT_POLL_S)
        assert await is_carried(listen)
        nursery.cancel_scope.cancel()


def close_with_reset(stream: trio.SocketStream) -> None:
    """Closes the connection with a reset (RST), as a process killed or restarted
    mid-connection does."""
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


async def reset(stream: trio.SocketStream) -> None:
    await stream.receive_some()
    close_with_reset(stream)


async def test_a_connection_reset_at_either_end_leaves_the_proxy_carrying_others() -> None:
    resetting, echoing = get_free_port(), get_free_port()
    to_reset, to_echo = get_free_port(), get_free_port()
    routes = [Route(to_reset, resetting, Link(2), (0, 1)), Route(to_echo, echoing, Link(2), (0, 2))]
    async with trio.open_nursery() as nursery:
        for port, handler in ((resetting, reset), (echoing, echo)):
            listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
            nursery.start_soon(trio.serve_listeners, handler, listeners)
        nursery.start_soon(serve, routes)
        await trio.sleep(0.2)
        for _ in range(3):  # the dialled end resets each connection
            assert not await is_carried(to_reset)
        held = await trio.open_tcp_stream("127.0.0.1", to_echo)
        await held.send_all(b"a")
        assert await held.receive_some() == b"a"
        close_with_reset(held)  # the dialling end resets
        await trio.sleep(0.1)
        assert await is_carried(to_echo)
        nursery.cancel_scope.cancel()


async def test_a_split_cuts_the_links_between_its_sides_and_keeps_those_within(
    tmp_path: Path,
) -> None:
    target = get_free_port()
    ends = [(0, 1), (0, 2), (3, 2), (1, 3)]
    routes = [Route(get_free_port(), target, Link(2), pair) for pair in ends]
    cut_file = tmp_path / CUT_FILE
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(target, host="127.0.0.1")
        nursery.start_soon(trio.serve_listeners, echo, listeners)
        nursery.start_soon(serve, routes, 0, cut_file)
        await trio.sleep(0.2)
        write_cuts(cut_file, sides=[[0, 1], [2, 3]])
        await trio.sleep(4 * CUT_POLL_S)
        carried = [await is_carried(route.listen_port) for route in routes]
        assert carried == [True, False, True, False]
        write_cuts(cut_file, sides=[[2]])  # one node apart from the three others
        await trio.sleep(4 * CUT_POLL_S)
        carried = [await is_carried(route.listen_port) for route in routes]
        assert carried == [True, False, False, True]
        nursery.cancel_scope.cancel()


async def test_the_proxy_delays_each_way_by_half_the_round_trip_and_keeps_order() -> None:
    target, listen = get_free_port(), get_free_port()
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(target, host="127.0.0.1")
        nursery.start_soon(trio.serve_listeners, echo, listeners)
        nursery.start_soon(serve, [Route(listen, target, Link(200, jitter_ms=20), (0, 1))])
        await trio.sleep(0.2)
        stream = await trio.open_tcp_stream("127.0.0.1", listen)
        sent = b"".join(bytes([n]) * 1000 for n in range(50))
        start = time.monotonic()
        for offset in range(0, len(sent), 1000):
            await stream.send_all(sent[offset : offset + 1000])
        received = b""
        while len(received) < len(sent):
            received += await stream.receive_some()
        took = time.monotonic() - start
        assert received == sent
        assert 0.2 <= took < 1.0  # both ways (a stall, 0.5 s, would show)
        await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_a_held_direction_stalls_in_order_while_the_other_way_carries(
    tmp_path: Path,
) -> None:
    """Node 1 does not hear node 0 while (0, 1) is held: what 0 sends waits, in order,
    and arrives once the link is whole; what 1 sends 0 arrives meanwhile."""
    target, listen = get_free_port(), get_free_port()
    cut_file = tmp_path / CUT_FILE
    heard: list[bytes] = []

    async def node_1(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.send_all(b"from 1")
            async for data in stream:
                heard.append(bytes(data))

    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(target, host="127.0.0.1")
        nursery.start_soon(trio.serve_listeners, node_1, listeners)
        nursery.start_soon(serve, [Route(listen, target, Link(2), (0, 1))], 0, cut_file)
        write_cuts(cut_file, held=[[0, 1]])
        await trio.sleep(0.2)
        stream = await trio.open_tcp_stream("127.0.0.1", listen)
        with trio.fail_after(2):
            assert await stream.receive_some() == b"from 1"
        await stream.send_all(b"a")
        await stream.send_all(b"b")
        await trio.sleep(0.3)
        assert heard == []
        write_cuts(cut_file)
        with trio.fail_after(2):
            while b"".join(heard) != b"ab":
                await trio.sleep(0.01)
        await stream.aclose()
        nursery.cancel_scope.cancel()
