"""Only allowed peers talk to a host: real hosts on 127.0.0.1, a stranger dialling them."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import pytest
import trio

from node.p2p import P2PNode, RequestFailed, open_p2p
from tests.node.p2p.support import TOPICS, BlockServer, config, note, peer_id_of, receive

MEMBERS = frozenset({peer_id_of("a"), peer_id_of("b")})
PROTOCOL = "/clearnode/test/1"


async def open_members(stack: AsyncExitStack) -> tuple[P2PNode, P2PNode]:
    """a and b, each allowing only the other (and itself), connected with meshes formed."""
    a = await stack.enter_async_context(open_p2p(config("a", allowed_peers=MEMBERS), TOPICS))
    b = await stack.enter_async_context(open_p2p(config("b", allowed_peers=MEMBERS), TOPICS))
    await b.connect(a.listen_addrs()[0])
    await a.wait_for_mesh("tx", 1)
    await b.wait_for_mesh("tx", 1)
    return a, b


async def dial_and_be_dropped(dialler: P2PNode, target: P2PNode) -> None:
    """`dialler` dials `target`; one of them refuses the other, and no connection stays."""
    try:
        await dialler.connect(target.listen_addrs()[0])
    except RequestFailed:
        pass  # the close may land under the dial
    with trio.fail_after(5):
        while (
            dialler.peer_id in target.connected_peers()
            or target.peer_id in dialler.connected_peers()
        ):
            await trio.sleep(0.02)


async def test_a_stranger_hears_no_gossip_and_costs_nobody_points() -> None:
    async with AsyncExitStack() as stack:
        a, b = await open_members(stack)
        stranger = await stack.enter_async_context(open_p2p(config("stranger"), TOPICS))
        await dial_and_be_dropped(stranger, b)
        await a.publish("tx", note("members only"))
        assert await receive(b, "tx") == (a.peer_id, "members only")
        await stranger.publish("tx", note("let me in"))
        with trio.move_on_after(1):
            sender, text = await receive(stranger, "tx")
            pytest.fail(f"the stranger heard {text!r} from {sender}")
        with trio.move_on_after(0.5):
            sender, text = await receive(b, "tx")
            pytest.fail(f"b took {text!r} from {sender}")
        assert b.counters["connections", "refused_not_allowed"] >= 1
        assert stranger.peer_id not in b.get_mesh_peers("tx")
        assert stranger.peer_id not in b.connected_peers()
        assert b.scores.get_score(stranger.peer_id) == 0
        assert not b.is_banned(stranger.peer_id)


async def test_a_stranger_cannot_request_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = BlockServer()
    caplog.set_level(logging.INFO, logger="node.p2p.door")
    async with AsyncExitStack() as stack:
        a, b = await open_members(stack)
        b.set_request_handler(PROTOCOL, server.serve, max_request_bytes=64)
        assert await a.request(b.peer_id, PROTOCOL, b"height 1", 64, 64) == b"blocks"
        stranger = await stack.enter_async_context(open_p2p(config("stranger"), TOPICS))
        for _ in range(3):
            with pytest.raises(RequestFailed):
                await stranger.connect(b.listen_addrs()[0])
                # Straight after its dial, before b's close lands: b must not answer.
                await stranger.request(b.peer_id, PROTOCOL, b"height 1", 64, 64)
            await trio.sleep(0.2)
        assert server.served == [a.peer_id]
        assert b.scores.get_score(stranger.peer_id) == 0
        refusals = [r for r in caplog.records if "not a validator or observer" in r.getMessage()]
        assert len(refusals) == 1
        assert b.counters["connections", "refused_not_allowed"] >= 3


async def test_a_host_closes_its_own_dial_to_a_peer_it_does_not_allow() -> None:
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_p2p(config("a", allowed_peers=MEMBERS), TOPICS))
        outsider = await stack.enter_async_context(open_p2p(config("outsider"), TOPICS))
        await dial_and_be_dropped(a, outsider)
        assert a.connected_peers() == []
        assert a.counters["connections", "refused_not_allowed"] == 1


async def test_a_peer_no_longer_allowed_is_cut_off_and_one_allowed_again_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The allowed set follows the validator set: a removed validator's connections close
    (said once), its gossip is dropped, nobody is scored; allowed again, it reconnects."""
    caplog.set_level(logging.INFO, logger="node.p2p.door")
    with_c = MEMBERS | {peer_id_of("c")}
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_p2p(config("a", allowed_peers=with_c), TOPICS))
        c = await stack.enter_async_context(open_p2p(config("c", allowed_peers=with_c), TOPICS))
        await c.connect(a.listen_addrs()[0])
        await a.wait_for_mesh("tx", 1)
        await c.wait_for_mesh("tx", 1)  # the publisher's mesh: a's alone let c send to nobody
        await c.publish("tx", note("still a validator"))
        assert await receive(a, "tx") == (c.peer_id, "still a validator")

        a.set_allowed_peers(MEMBERS)
        assert c.peer_id not in a.connected_peers()
        with trio.fail_after(5):
            while a.peer_id in c.connected_peers():
                await trio.sleep(0.02)
        await dial_and_be_dropped(c, a)
        await c.publish("tx", note("removed"))
        with trio.move_on_after(0.5):
            sender, text = await receive(a, "tx")
            pytest.fail(f"a took {text!r} from {sender}")
        closes = [r for r in caplog.records if "no longer a validator" in r.getMessage()]
        refusals = [r for r in caplog.records if "not a validator or observer" in r.getMessage()]
        assert (len(closes), len(refusals)) == (1, 0)
        assert a.counters["connections", "closed_not_allowed"] == 1
        assert a.scores.get_score(c.peer_id) == 1  # its one valid note: no penalty since

        a.set_allowed_peers(with_c)
        await c.connect(a.listen_addrs()[0])
        await a.wait_for_mesh("tx", 1)
        await c.wait_for_mesh("tx", 1)  # c has heard a subscribe: before, it sends to nobody
        await c.publish("tx", note("back"))
        heard = [await receive(a, "tx")]
        if heard[0][1] == "removed":  # c's gossip cache, offered again on the new connection
            heard.append(await receive(a, "tx"))
        assert heard[-1] == (c.peer_id, "back")


async def test_a_persistent_peer_is_dialled_only_while_allowed() -> None:
    async with AsyncExitStack() as stack:
        b = await stack.enter_async_context(open_p2p(config("b", allowed_peers=MEMBERS), TOPICS))
        a_config = config("a", allowed_peers=frozenset(), persistent_peers=(b.listen_addrs()[0],))
        a = await stack.enter_async_context(open_p2p(a_config, TOPICS))
        await trio.sleep(1)
        assert a.counters["connections", "refused_not_allowed"] == 0  # never dialled
        a.set_allowed_peers(MEMBERS)
        with trio.fail_after(5):
            while b.peer_id not in a.connected_peers():
                await trio.sleep(0.02)
