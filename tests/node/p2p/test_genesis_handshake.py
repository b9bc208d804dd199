"""The genesis handshake: real hosts on 127.0.0.1, two of one genesis and one whose genesis
differs by a byte, which neither side lets in, whoever dialled."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest
import trio

from node.p2p import RequestFailed, open_p2p
from node.p2p.genesis import GenesisGate
from tests.node.p2p.support import TOPICS, BlockServer, config, note, receive

GENESIS = hashlib.sha256(b"genesis of the network").digest()
OTHER = GENESIS[:-1] + bytes([GENESIS[-1] ^ 1])
PROTOCOL = "/clearnode/test/1"


async def wait_until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(10):
        while not condition():
            await trio.sleep(0.02)


def get_warnings(caplog: pytest.LogCaptureFixture, peer: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith(f"refusing peer {peer}")
    ]


async def test_a_peer_of_another_genesis_is_refused_whoever_dials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = BlockServer()
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_p2p(config("a", genesis_hash=GENESIS), TOPICS))
        b = await stack.enter_async_context(open_p2p(config("b", genesis_hash=GENESIS), TOPICS))
        b.set_request_handler(PROTOCOL, server.serve, max_request_bytes=64)
        await b.connect(a.listen_addrs()[0])
        await a.wait_for_mesh("tx", 1)
        assert await a.request(b.peer_id, PROTOCOL, b"height 1", 64, 64) == b"blocks"
        # the odd node dials b, as its persistent peer, and is dialled by b: refused both times
        odd_config = config("odd", genesis_hash=OTHER, persistent_peers=(b.listen_addrs()[0],))
        odd = await stack.enter_async_context(open_p2p(odd_config, TOPICS))
        await wait_until(lambda: odd.other_genesis.refusals["libp2p"] == 1)
        await wait_until(lambda: b.other_genesis.refusals["libp2p"] == 1)
        with trio.move_on_after(1):  # its redial waits a minute, not a backoff's 0.2 s
            await wait_until(lambda: b.other_genesis.refusals["libp2p"] > 1)
            pytest.fail("the refused peer was redialled at once")
        try:
            await b.connect(odd.listen_addrs()[0])
        except RequestFailed:
            pass  # the close may land under the dial
        await wait_until(lambda: b.other_genesis.refusals["libp2p"] == 2)
        await a.publish("tx", note("for this genesis only"))
        assert await receive(b, "tx") == (a.peer_id, "for this genesis only")
        with trio.move_on_after(0.5):
            sender, text = await receive(odd, "tx")
            pytest.fail(f"the odd node heard {text!r} from {sender}")
        assert odd.peer_id not in b.connected_peers() and b.peer_id not in odd.connected_peers()
        with pytest.raises(RequestFailed, match="not connected"):
            await odd.request(b.peer_id, PROTOCOL, b"height 1", 64, 64)
        assert server.served == [a.peer_id]
    # each side names the other, its address and both hashes, once however often refused
    (warning,) = get_warnings(caplog, odd.peer_id)
    assert f"it runs genesis 0x{OTHER.hex()}, this node genesis 0x{GENESIS.hex()}" in warning
    assert "/ip4/127.0.0.1/tcp/" in warning
    (theirs,) = get_warnings(caplog, b.peer_id)
    assert f"it runs genesis 0x{GENESIS.hex()}, this node genesis 0x{OTHER.hex()}" in theirs
    assert a.other_genesis.refusals["libp2p"] == 0


class Connection:
    """What the gate reads of a connection."""

    def __init__(self) -> None:
        self.is_closed = False


async def test_a_peer_stays_admitted_while_a_connection_it_spoke_on_is_open() -> None:
    """Two dials crossing make two connections: the one that closes first takes nothing
    with it; once none is open, what the peer said is forgotten, and its next connection
    must say it again (it may have restarted on another genesis)."""
    gate = GenesisGate(GENESIS)
    first, second = Connection(), Connection()
    gate.learn("peer", first, GENESIS)
    gate.learn("peer", second, GENESIS)
    first.is_closed = True
    assert gate.is_admitted("peer") and await gate.wait("peer")
    second.is_closed = True
    assert not gate.is_admitted("peer")
    third = Connection()
    gate.learn("peer", third, OTHER)
    assert not gate.is_admitted("peer") and not await gate.wait("peer")
    assert gate.get_other_genesis("peer") == OTHER
    third.is_closed = True
    gate.learn("peer", Connection(), GENESIS)  # back on the network's genesis
    assert gate.is_admitted("peer") and gate.get_other_genesis("peer") is None
