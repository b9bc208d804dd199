"""Request/response streams: one framed request in, one framed response out per stream.

A request goes only to a connected peer admitted past its genesis handshake
(node/p2p/door.py), and a request of a peer not admitted is closed unanswered. An
oversized frame either way costs its sender points; a stream that breaks costs nobody
anything (a restart, a closed connection).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamError
from libp2p.peer.id import ID

from node.framing import encode_frame
from node.p2p.connections import get_frame_reader
from node.p2p.door import Door
from node.p2p.errors import FrameError, MessageTooLarge, RequestFailed
from node.p2p.lazy_stream import open_stream
from node.p2p.probes import QuietLinks
from node.p2p.scoring import Offence

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM_CLOSE_S = 1.0
"""How long a request's stream may take to close: on a link that stopped delivering the
close may never finish, and a request must not outlive its caller by more than this."""

RequestHandler = Callable[[str, bytes], Awaitable[bytes]]


@dataclass(frozen=True)
class _Protocol:
    handler: RequestHandler
    max_request_bytes: int


class Requests:
    """The protocols a host serves, and its requests to peers."""

    def __init__(
        self,
        host: Any,
        door: Door,
        quiet: QuietLinks,
        timeout_s: float,
        sent_bytes: Counter[str],
        counters: Counter[tuple[str, str]],
    ) -> None:
        self._host = host
        self._door = door
        self._quiet = quiet
        self._timeout_s = timeout_s
        self._sent_bytes = sent_bytes
        self._counters = counters
        self._protocols: dict[str, _Protocol] = {}

    def set_handler(self, protocol: str, handler: RequestHandler, max_request_bytes: int) -> None:
        """Serves `protocol`: one framed request in, one framed response out per stream."""
        self._protocols[protocol] = _Protocol(handler, max_request_bytes)
        self._host.set_stream_handler(TProtocol(protocol), self._serve)

    async def _serve(self, stream: INetStream) -> None:
        protocol = self._protocols[str(stream.get_protocol())]
        peer = str(stream.muxed_conn.peer_id)
        self._quiet.note_heard(peer, trio.current_time())
        if not await self._door.welcomes(peer):
            self._counters["requests", "refused"] += 1
            await stream.close()
            return
        try:
            request = await get_frame_reader(stream).read_frame(protocol.max_request_bytes)
            if request is None:
                return
            response = await protocol.handler(peer, request)
            await stream.write(len(response).to_bytes(4, "big") + response)
            self._sent_bytes[str(stream.get_protocol())] += 4 + len(response)
        except (MessageTooLarge, ValueError) as exc:
            # Handlers raise ValueError subclasses (typed decode errors) for bad requests.
            log.info("bad request from %s: %s", peer, exc)
            self._door.penalize(
                peer, Offence.OVERSIZED if isinstance(exc, MessageTooLarge) else Offence.UNDECODABLE
            )
        except (FrameError, StreamError) as exc:
            # The asker went away mid-request (a restart, a closed connection): not malice.
            log.debug("request stream from %s broke: %s", peer, exc)
            self._counters["requests", "broken"] += 1
        finally:
            await stream.close()

    async def request(
        self,
        peer: str,
        protocol: str,
        payload: bytes,
        max_request_bytes: int,
        max_response_bytes: int,
    ) -> bytes:
        """Sends one request and returns the response payload; RequestFailed on any failure.

        Only over a live connection: opening a stream to an unconnected peer would make
        py-libp2p dial it, and a peer that bans us would then be dialled by every request
        (several times a second), bypassing `P2PNode.keep_connected`'s backoff."""
        if peer not in self._door.get_connected():
            self._counters["requests", "not_connected"] += 1
            raise RequestFailed(peer, protocol, "not connected (keep_connected redials it)")
        frame = encode_frame(payload, max_request_bytes)
        with trio.move_on_after(self._timeout_s):
            try:  # the request leaves with the negotiation: one round trip in all
                stream = await open_stream(self._host, ID.from_base58(peer), protocol, frame)
            except Exception as exc:  # dial, negotiation and muxer errors have no common base
                raise RequestFailed(peer, protocol, f"{type(exc).__name__}: {exc}") from exc
            self._sent_bytes[protocol] += len(frame)
            try:
                response = await get_frame_reader(stream).read_frame(max_response_bytes)
            except MessageTooLarge as exc:
                self._door.penalize(peer, Offence.OVERSIZED)
                raise RequestFailed(peer, protocol, str(exc)) from exc
            except (FrameError, StreamError) as exc:
                # The server went away mid-answer (a restart, a closed connection): not malice.
                self._counters["requests", "broken"] += 1
                raise RequestFailed(peer, protocol, f"stream broke: {exc}") from exc
            finally:
                # also when the caller cancelled it (a hedged block sync took another
                # peer's answer): the stream must not stay open on the connection
                with trio.move_on_after(STREAM_CLOSE_S, shield=True):
                    await stream.close()
            if response is None:
                raise RequestFailed(peer, protocol, "stream closed without a response")
            return response
        raise RequestFailed(peer, protocol, f"no response within {self._timeout_s}s")

    async def ask(
        self, peer: str, protocol: str, payload: bytes, max_request_bytes: int,
        max_response_bytes: int, decode: Callable[[bytes], T],
        offence: Offence = Offence.BAD_RESPONSE,
    ) -> T:  # fmt: skip
        """`request`, its answer decoded by `decode`: an answer that does not decode (a
        ValueError subclass, as requests' decoders raise) costs `peer` `offence`, and its
        error is raised on."""
        answer = await self.request(peer, protocol, payload, max_request_bytes,
                                    max_response_bytes)  # fmt: skip
        try:
            return decode(answer)
        except ValueError:
            self._door.penalize(peer, offence)
            raise
