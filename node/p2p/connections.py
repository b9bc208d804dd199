"""A host's libp2p connections: watched as they come and go, read frame by frame, and
closed so that they are gone, not merely marked closed.

py-libp2p raises many unrelated types while a connection closes, can leave a closed
connection registered for seconds, and can hang in a close to a frozen peer; every close
here is bounded in time and says a failure at debug level, as nothing is left to do about it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import multiaddr
import trio
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.id import ID

from node.framing import FrameReader

log = logging.getLogger(__name__)

CLOSE_S = 5.0
"""Longest a close may take: a connection to a frozen peer may never finish closing."""


class ConnectionWatch(INotifee):
    """Wakes the redial loops when a connection comes or goes; hands each new one to
    `on_connected` (the node refuses banned peers there)."""

    def __init__(self, on_connected: Callable[[INetConn], None]) -> None:
        self.changed = trio.Event()
        self.on_connected = on_connected

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self.on_connected(conn)
        self.notify()

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self.notify()

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


def get_frame_reader(stream: INetStream) -> FrameReader:
    """Reads `stream`'s frames; the library's StreamEOF is the end of the stream there."""

    async def read(n: int) -> bytes:
        try:
            return bytes(await stream.read(n))
        except StreamEOF:
            return b""

    return FrameReader(read)


def get_live_connections(host: Any, peer: ID) -> list[INetConn]:
    """`peer`'s connections that are not closed.

    py-libp2p can keep a connection the other side closed (a refused one, a ban)
    registered, closed and shutting down, for seconds after the close; it still
    counts as connected there, and `host.connect` returns at once on it without
    dialling, so a request right after fails with "No valid connections".
    """
    return [c for c in host.get_network().get_connections(peer) if not c.is_closed]


async def close_peer(host: Any, peer: ID) -> None:
    """Closes every connection to `peer`, also one a blocked write holds."""
    await abort_connections(host, peer)
    await disconnect_quietly(host, peer)


async def abort_connections(host: Any, peer: ID) -> None:
    """Closes the TCP transport under every connection to `peer`.

    py-libp2p's close first writes a yamux GO_AWAY under the lock a blocked writer
    holds: to a frozen peer it never returns, and cancelling it leaves the
    connection marked closed yet still registered. A closed transport fails the
    blocked writes at once, and the library's close then completes.
    """
    for conn in host.get_network().get_connections(peer):
        with trio.move_on_after(1):
            try:
                await conn.muxed_conn.secured_conn.close()
            except Exception as exc:  # the library raises several types here
                log.debug("closing the transport to %s failed: %s", peer, exc)


async def disconnect_quietly(host: Any, peer: ID) -> None:
    with trio.move_on_after(CLOSE_S):
        try:
            await host.disconnect(peer)
        except Exception as exc:  # the library raises several types for a closing conn
            log.info("closing the connection to %s failed: %s", peer, exc)


async def close_connection(conn: INetConn) -> None:
    with trio.move_on_after(CLOSE_S):
        try:
            await conn.close()
        except Exception as exc:  # the library raises several types for a closing conn
            log.debug("closing a connection failed: %s", exc)


async def close_host(host: Any) -> None:
    """Closes every connection so peers notice at once (leaving `host.run` does not).

    All at once: py-libp2p closes them one after another and sleeps 0.2 s in each close,
    so a node with four peers took 0.8 s to stop."""
    with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_S):
        async with trio.open_nursery() as nursery:
            for connections in list(host.get_network().connections.values()):
                for connection in list(connections):
                    nursery.start_soon(close_connection, connection)
        await host.close()
