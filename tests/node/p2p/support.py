"""Real libp2p hosts on 127.0.0.1 for tests: a line of connected hosts with formed meshes."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import msgpack
import trio

from node.p2p import HostConfig, P2PNode, Topic, open_p2p

MAX_NOTE = 512
ROOT = Path(__file__).resolve().parents[3]
"""The repository, the working directory of peer processes (tests/node/p2p/peerproc.py)."""


class NoteError(ValueError):
    """A note that is not [1, text]."""


class StaleNote(NoteError):
    """A well-formed note of version 0: old, not malicious (the topics ignore it)."""


def decode_note(data: bytes) -> str:
    """Version 1 notes: msgpack [1, str]; [0, str] is a stale one."""
    try:
        fields = msgpack.unpackb(data)
    except ValueError as exc:
        raise NoteError(f"not msgpack: {exc}") from exc
    if isinstance(fields, list) and len(fields) == 2 and fields[0] == 0:
        raise StaleNote(f"note {fields[1]!r} is stale")
    if not (isinstance(fields, list) and len(fields) == 2 and fields[0] == 1):
        raise NoteError(f"expected [1, text], got {fields!r}")
    if not isinstance(fields[1], str):
        raise NoteError(f"text must be str, got {type(fields[1]).__name__}")
    return fields[1]


def note(text: str) -> bytes:
    packed: bytes = msgpack.packb([1, text])
    return packed


TOPICS = [
    Topic("tx", MAX_NOTE, decode_note, ignores=(StaleNote,)),
    Topic("prices", MAX_NOTE, decode_note, ignores=(StaleNote,)),
]


class BlockServer:
    """A request handler that answers every request `b"blocks"` and notes who asked."""

    def __init__(self) -> None:
        self.served: list[str] = []

    async def serve(self, peer: str, request: bytes) -> bytes:
        self.served.append(peer)
        return b"blocks"


def seed(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def config(name: str, **kw: object) -> HostConfig:
    return HostConfig(key_seed=seed(name), **kw)  # type: ignore[arg-type]


def peer_id_of(name: str) -> str:
    """The peer id a host of `config(name)` will have, known before it starts."""
    from libp2p.crypto.ed25519 import create_new_key_pair
    from libp2p.peer.id import ID

    return str(ID.from_pubkey(create_new_key_pair(seed(name)).public_key))


async def run_host_until(
    cfg: HostConfig,
    stop: trio.Event,
    topics: Sequence[Topic] = TOPICS,
    task_status: trio.TaskStatus[P2PNode] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A host of `cfg` on `topics`, from its start until `stop` is set."""
    async with open_p2p(cfg, topics) as node:
        task_status.started(node)
        await stop.wait()


@asynccontextmanager
async def line(*names: str, **kw: object) -> AsyncIterator[list[P2PNode]]:
    """Hosts connected in a line a - b - c ..., meshes formed on every topic; they close
    together at the end (one after another, each waited for py-libp2p's 0.2 s close)."""
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        try:
            nodes = [
                await nursery.start(run_host_until, config(name, **kw), stop) for name in names
            ]
            for left, right in itertools.pairwise(nodes):
                await right.connect(left.listen_addrs()[0])
            for i, node in enumerate(nodes):
                neighbours = (i > 0) + (i < len(nodes) - 1)
                for topic in TOPICS:
                    await node.wait_for_mesh(topic.name, neighbours)
            yield nodes
        finally:
            stop.set()


async def receive(node: P2PNode, topic: str) -> tuple[str, object]:
    with trio.fail_after(10):
        delivery = await node.messages(topic).receive()
    return delivery.sender, delivery.value


async def break_gossip_link(node: P2PNode, peer: str) -> object:
    """Resets `node`'s outbound GossipSub stream to `peer`, leaving the connection up:
    the next write to it fails inside py-libp2p's sending loop (a dead link mid-stream).
    Returns the stream broken."""
    stream = node.get_gossip_stream(peer)
    assert stream is not None, f"no gossip stream to {peer}"
    await stream.reset()
    return stream


def count_dead_links_closed(*nodes: P2PNode) -> list[int]:
    """How many connections each node closed because its gossip link had gone deaf."""
    return [node.counters["links", "closed_dead"] for node in nodes]


class Lines:
    """Lines of a child's stdout."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def next(self) -> str:
        while b"\n" not in self._buffer:
            chunk = await self._stream.receive_some()
            if not chunk:
                raise EOFError("peer process ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()
