"""The genesis handshake over a host's streams (node/p2p/genesis.py says why and what is
said): our hello on every new connection, the peer's answered, and the verdict.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import trio
from libp2p.abc import INetConn, INetStream
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamError
from libp2p.peer.id import ID

from node.framing import encode_frame
from node.p2p.connections import ConnectionWatch, close_connection, close_peer, get_frame_reader
from node.p2p.door import Door
from node.p2p.errors import FrameError, MessageTooLarge
from node.p2p.genesis import (
    GENESIS_PROTOCOL,
    HANDSHAKE_TIMEOUT_S,
    MAX_HELLO_BYTES,
    GenesisHello,
    OtherGenesisPeer,
    OtherGenesisPeers,
)
from node.p2p.lazy_stream import open_stream

log = logging.getLogger(__name__)


class GenesisHandshake:
    """Runs each new connection's handshake and answers the peers'; a peer of another
    genesis is told to `other_genesis` and its connections closed. Without a genesis of
    ours (the library's own tests) no handshake runs."""

    def __init__(
        self,
        host: Any,
        door: Door,
        other_genesis: OtherGenesisPeers,
        watch: ConnectionWatch,
        counters: Counter[tuple[str, str]],
    ) -> None:
        self._host = host
        self._door = door
        self._other_genesis = other_genesis
        self._watch = watch
        self._counters = counters
        if door.gate.ours is not None:
            host.set_stream_handler(TProtocol(GENESIS_PROTOCOL), self.answer)

    async def shake_hands(self, conn: INetConn) -> None:
        """Our side of a new connection's genesis handshake, then the verdict of either
        side's: the peer admitted, refused for another genesis, or (no hash within
        HANDSHAKE_TIMEOUT_S) its connection closed."""
        peer_id = conn.muxed_conn.peer_id
        peer = str(peer_id)
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S):
            try:
                await self._say_genesis(peer_id)
            except Exception as exc:  # dial, negotiation, stream and decode errors alike
                log.debug("genesis handshake with %s: %s: %s", peer, type(exc).__name__, exc)
        if await self._door.gate.wait(peer):
            self._watch.notify()
            return
        # not the hash of this connection's handshake: the peer may have said it on another
        # connection (two dials crossing), which it closed since
        theirs = self._door.gate.get_other_genesis(peer)
        if theirs is None:
            if not conn.is_closed:
                log.info("closing a connection to %s: no genesis handshake", peer)
                self._counters["connections", "genesis_handshake_failed"] += 1
                await close_connection(conn)
            return
        ours = self._door.gate.ours
        assert ours is not None  # a handshake runs only with a genesis of ours
        addresses = ", ".join(str(a) for a in conn.get_transport_addresses())
        self._other_genesis.refuse(OtherGenesisPeer(
            "libp2p", peer, addresses or "an unknown address", f"genesis 0x{theirs.hex()}",
            f"genesis 0x{ours.hex()}",
        ))  # fmt: skip
        await close_peer(self._host, peer_id)

    async def _say_genesis(self, peer: ID) -> None:
        """Sends our hello on a new stream and learns the peer's from its answer."""
        ours = self._door.gate.ours
        assert ours is not None
        hello = encode_frame(GenesisHello(ours).encode(), MAX_HELLO_BYTES)
        stream = await open_stream(self._host, peer, GENESIS_PROTOCOL, hello)
        try:
            answer = await get_frame_reader(stream).read_frame(MAX_HELLO_BYTES)
        finally:
            await stream.close()
        if answer is None:
            raise FrameError("the peer closed the handshake without a hello", 0, 1)
        theirs = GenesisHello.decode(answer).genesis_hash
        self._door.gate.learn(str(peer), stream.muxed_conn, theirs)

    async def answer(self, stream: INetStream) -> None:
        """The peer's side of the handshake: its hello learnt before ours is written, so
        that a peer that read our answer finds its own hash known here."""
        ours = self._door.gate.ours
        assert ours is not None
        peer = str(stream.muxed_conn.peer_id)
        try:
            if self._door.admits(peer):
                hello = await get_frame_reader(stream).read_frame(MAX_HELLO_BYTES)
                if hello is not None:
                    theirs = GenesisHello.decode(hello).genesis_hash
                    self._door.gate.learn(peer, stream.muxed_conn, theirs)
                    await stream.write(encode_frame(GenesisHello(ours).encode(), MAX_HELLO_BYTES))
        except (MessageTooLarge, FrameError, StreamError, ValueError) as exc:
            log.debug("genesis handshake from %s: %s", peer, exc)
        finally:
            await stream.close()
