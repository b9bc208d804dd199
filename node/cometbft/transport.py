"""ABCI's socket transport: CometBFT connects to the app's socket (one connection each
for consensus, mempool, queries and snapshots) and sends Requests, each a protobuf
message preceded by its length as an unsigned varint; the app answers each in order.

The app listens on a Unix socket in the node's home, never on the network: only the
CometBFT process beside it may drive the state. Requests are handled one at a time
across all connections (the handler is synchronous and the state has one writer), as
CometBFT's own local client does; before one is handled, `gather` may wait for what it
needs (a block's transaction bodies from the mempool's gossip or the peers:
node/cometbft/bodies.py), the other connections' requests answered meanwhile.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio
from google.protobuf.message import DecodeError
from tendermint.abci import types_pb2 as abci

from clearing.upgrade import ReleaseMismatch
from lightclient.cometbft import encode_uvarint
from node.framing import CHUNK_BYTES, FrameError, MessageTooLarge

log = logging.getLogger(__name__)

MAX_VARINT_BYTES = 10
Handler = Callable[[abci.Request], abci.Response]
Gather = Callable[[abci.Request], Awaitable[None]]


async def gather_nothing(request: abci.Request) -> None:
    """What an app that needs nothing beyond a request gathers before answering it."""


def decode_uvarint(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """(value, bytes it took) of the varint at the start of `buffer`; None if incomplete."""
    value = 0
    for index, byte in enumerate(buffer[:MAX_VARINT_BYTES]):
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, index + 1
    if len(buffer) >= MAX_VARINT_BYTES:
        raise FrameError("length prefix longer than a varint", len(buffer), MAX_VARINT_BYTES)
    return None


def encode_abci_frame(message: abci.Response) -> bytes:
    body: bytes = message.SerializeToString()
    return encode_uvarint(len(body)) + body


class AbciFrameReader:
    """Splits a byte stream into length-delimited frames of at most `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buffer = bytearray()

    def feed(self, data: bytes | bytearray) -> list[bytes]:
        self.buffer += data
        frames = []
        while (prefix := decode_uvarint(self.buffer)) is not None:
            size, taken = prefix
            if size > self.max_bytes:
                raise MessageTooLarge("ABCI request", size, self.max_bytes)
            if len(self.buffer) < taken + size:
                break
            frames.append(bytes(self.buffer[taken : taken + size]))
            del self.buffer[: taken + size]
        return frames


def answer(handle: Handler, request: abci.Request) -> abci.Response:
    """The handler's response, or an exception response CometBFT stops on: a request the
    app cannot answer (a bug, a state it cannot apply) must halt this node, never let it
    go on with another state than its peers'."""
    try:
        return handle(request)
    except ReleaseMismatch as exc:  # the node stops for an upgrade, and says why in one line
        log.warning("ABCI %s: %s", request.WhichOneof("value"), exc.describe())
        return abci.Response(exception=abci.ResponseException(error=exc.describe()))
    except Exception as exc:
        log.exception("ABCI %s failed", request.WhichOneof("value"))
        return abci.Response(exception=abci.ResponseException(error=f"{type(exc).__name__}: {exc}"))


async def serve_connection(
    stream: trio.abc.Stream, handle: Handler, max_bytes: int, gather: Gather = gather_nothing
) -> None:
    """Answers the requests of one connection, in order, until CometBFT closes it."""
    reader = AbciFrameReader(max_bytes)
    while data := await stream.receive_some(CHUNK_BYTES):
        answers = []
        for frame in reader.feed(data):
            request = abci.Request.FromString(frame)
            await gather(request)
            answers.append(encode_abci_frame(answer(handle, request)))
        if answers:
            await stream.send_all(b"".join(answers))
    if reader.buffer:
        raise FrameError("connection closed inside a request", len(reader.buffer), 0)


async def open_unix_listener(path: Path) -> trio.SocketListener:
    """A listener on `path`, replacing a socket file a stopped node left behind."""
    path.unlink(missing_ok=True)
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.listen()
    return trio.SocketListener(sock)


async def serve_abci(
    path: Path,
    handle: Handler,
    max_bytes: int,
    gather: Gather = gather_nothing,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serves ABCI on the Unix socket `path` until cancelled. A connection that breaks
    the framing is closed (CometBFT reconnects or stops); the others go on."""
    listener = await open_unix_listener(path)

    async def serve(stream: trio.SocketStream) -> None:
        async with stream:
            try:
                await serve_connection(stream, handle, max_bytes, gather)
            except trio.BrokenResourceError as exc:
                # CometBFT stopping (or a restart of it) resets its connections: ordinary.
                log.info("ABCI connection closed by cometbft: %s", exc)
            except (FrameError, MessageTooLarge, DecodeError) as exc:
                log.error("ABCI connection closed: %s", exc)

    async with listener:
        async with trio.open_nursery() as nursery:
            task_status.started()
            await trio.serve_listeners(serve, [listener], handler_nursery=nursery)
