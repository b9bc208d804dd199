"""Connections between two real hosts on 127.0.0.1: a crossed dial leaves one connection."""

from __future__ import annotations

import hashlib
from contextlib import AsyncExitStack

import multiaddr
import pytest
import trio
from libp2p.abc import INetConn
from libp2p.peer.id import ID

from node.p2p import P2PNode, open_p2p
from tests.node.p2p.support import TOPICS, config, note, receive

GENESIS_HASH = hashlib.sha256(b"one genesis").digest()


def get_live(node: P2PNode, other: P2PNode) -> list[INetConn]:
    network = node._host.get_network()
    return [c for c in network.get_connections(ID.from_base58(other.peer_id)) if not c.is_closed]


async def dial_again(dialler: P2PNode, target: P2PNode) -> None:
    """A new connection from `dialler`, beside any it has (`connect` would reuse one)."""
    addr = multiaddr.Multiaddr(target.listen_addrs()[0].rsplit("/p2p/", 1)[0])
    await dialler._host.get_network().dial_addr(addr, ID.from_base58(target.peer_id))


@pytest.mark.parametrize("kept_first", [True, False], ids=["kept-first", "crossed-first"])
async def test_a_crossed_dial_leaves_the_connection_the_lower_peer_id_dialled(
    kept_first: bool,
) -> None:
    """Whichever comes first, both sides keep the connection the lower peer id dialled,
    and gossip goes both ways on it (a stream on the closed one is moved)."""
    async with AsyncExitStack() as stack:
        hosts = [
            await stack.enter_async_context(
                open_p2p(config(name, genesis_hash=GENESIS_HASH), TOPICS)
            )
            for name in ("a", "b")
        ]
        lower, higher = sorted(hosts, key=lambda node: node.peer_id)
        first, second = (lower, higher) if kept_first else (higher, lower)
        await first.connect(second.listen_addrs()[0])
        for node in hosts:
            await node.wait_for_mesh("tx", 1)
        await dial_again(second, first)
        with trio.fail_after(10):
            while len(get_live(lower, higher)) != 1 or len(get_live(higher, lower)) != 1:
                await trio.sleep(0.02)
        [kept] = get_live(lower, higher)
        assert kept.muxed_conn.is_initiator
        closed = sum(node.counters["connections", "closed_crossed"] for node in hosts)
        assert closed >= 1
        for sender, receiver in ((lower, higher), (higher, lower)):
            await sender.wait_for_mesh("tx", 1)
            await receiver.wait_for_mesh("tx", 1)
            await sender.publish("tx", note(f"from {sender.peer_id}"))
            assert await receive(receiver, "tx") == (sender.peer_id, f"from {sender.peer_id}")
        assert [n.counters["links", "closed_dead"] for n in hosts] == [0, 0]
