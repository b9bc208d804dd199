"""Links between validators as if they stood in other regions: a TCP proxy for each
ordered pair of nodes delays what it carries by half the pair's round trip (and some
jitter), in order, and stalls a stream as a lost segment does.

This kernel has no `netem` qdisc, so the delay is made in user space, as CometBFT's QA
and toxiproxy make it: node i dials node j (both engines dial only their configured
peers) at a loopback port of the proxy that stands for the link i -> j. A lost segment
is not dropped, which TCP would hide anyway: it holds its stream for a retransmission
timeout (Linux: the round trip plus at least 200 ms), and everything behind it waits
(head-of-line), which is what loss costs a TCP stream. The proxies run in a process of
their own (`python -m tests.node.wan ROUTES`), so their CPU is counted apart from the
nodes' and the load's (bench/wan.py).

The network splits into sides (`Proxies.split`; `Proxies.cut` puts one node on a side
of its own) as a region's links to the others break: every connection through a link
between two sides closes at once, and each new one closes as it is accepted, until the
split heals (bench/isolation.py). A link can also go one way (`Proxies.hold`): what one
node sends the other is held, in order, until the link is whole again, while the other
way still carries, as a TCP stream whose segments one way are lost stalls until
retransmission gets through (or the node gives up on it). The proxy process reads the
sides and the held directions from a file beside its routes, every `CUT_POLL_S`.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import trio

from bridge.loopback import get_free_port

SEGMENT_BYTES = 1448
"""A TCP segment's payload on a 1,500-byte MTU: how many segments a chunk crossed."""
MIN_RTO_MS = 200.0
"""Linux's least retransmission timeout (TCP_RTO_MIN)."""
READ_BYTES = 65_536
STARTUP_S = 10.0
CUT_POLL_S = 0.05
CUT_FILE = "wan-cut.json"
"""Beside the routes' file: `{"sides": [...], "held": [...]}`, the sides a JSON list of
lists of node indices (the nodes named in none are one more side together) and the held
directions `[from, to]` pairs; absent when whole."""

REGION_ROUND_TRIPS_MS = (
    (2, 30, 80, 150),
    (30, 2, 80, 150),
    (80, 80, 2, 220),
    (150, 150, 220, 2),
)
"""Round trips between four regions (say Frankfurt, London, Virginia, Singapore), and
within one (2 ms): the issue's 30 / 80 / 150 / 220 ms. Validator i stands in region
i mod 4."""


@dataclass(frozen=True)
class Link:
    round_trip_ms: float
    jitter_ms: float = 0.0
    """Each chunk waits up to this much more (uniformly), never overtaking the one before."""
    loss: float = 0.0
    """The chance each segment is lost once."""

    def get_delay_s(self, size: int, rng: random.Random) -> float:
        """How long a chunk of `size` bytes takes from proxy to peer."""
        delay_ms = self.round_trip_ms / 2 + self.jitter_ms * rng.random()
        segments = max(1, math.ceil(size / SEGMENT_BYTES))
        if self.loss and rng.random() < 1 - (1 - self.loss) ** segments:
            delay_ms += self.round_trip_ms + MIN_RTO_MS
        return delay_ms / 1000


def get_region_link(i: int, j: int, jitter_ms: float, loss: float) -> Link:
    return Link(REGION_ROUND_TRIPS_MS[i % 4][j % 4], jitter_ms, loss)


@dataclass(frozen=True)
class Route:
    listen_port: int
    target_port: int
    link: Link
    ends: tuple[int, int]
    """The dialling node and the node dialled."""


@dataclass
class Mesh:
    """The links of a network: node i reaches port `p` of node j through `route(i, j, p)`."""

    get_link: Callable[[int, int], Link]
    routes: list[Route] = field(default_factory=list)

    def route(self, i: int, j: int, target_port: int) -> int:
        """The loopback port where node i dials node j's `target_port`."""
        route = Route(get_free_port(), target_port, self.get_link(i, j), (i, j))
        self.routes.append(route)
        return route.listen_port


class Proxies:
    """The mesh's proxies in their own process, until closed."""

    def __init__(self, mesh: Mesh, folder: Path) -> None:
        spec = folder / "wan-routes.json"
        spec.write_text(json.dumps([asdict(r) for r in mesh.routes]))
        self.cut_file = folder / CUT_FILE
        self.sides: list[list[int]] = []
        self.held: list[list[int]] = []
        self.log = (folder / "wan-proxies.log").open("wb")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.node.wan", str(spec)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        self._wait_listening([r.listen_port for r in mesh.routes])

    def _wait_listening(self, ports: list[int]) -> None:
        deadline = time.monotonic() + STARTUP_S
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.close()
                        raise RuntimeError(f"the WAN proxies do not listen on {port}") from None
                    time.sleep(0.05)

    def cut(self, nodes: set[int]) -> None:
        """Cuts each of `nodes` off from every other node (none: every link heals)."""
        self.split([{node} for node in nodes])

    def split(self, sides: list[set[int]]) -> None:
        """Only nodes on one side reach each other (no side: every link heals)."""
        self.sides = [sorted(side) for side in sides]
        self._write()

    def hold(self, directions: set[tuple[int, int]]) -> None:
        """What each `(from, to)` of `directions` sends is held until it is no longer
        named (none: every link carries both ways)."""
        self.held = sorted([a, b] for a, b in directions)
        self._write()

    def _write(self) -> None:
        written = self.cut_file.with_suffix(".partial")
        written.write_text(json.dumps({"sides": self.sides, "held": self.held}))
        os.replace(written, self.cut_file)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.log.close()


Sides = tuple[frozenset[int], ...]


def is_split(sides: Sides, ends: tuple[int, int]) -> bool:
    """Whether the two nodes stand on different sides (those named on none: one more)."""
    first, second = (next((i for i, side in enumerate(sides) if end in side), -1) for end in ends)
    return first != second


@dataclass
class Cuts:
    """The sides now, the directions held, and the connections open through each link,
    by its two ends."""

    sides: Sides = ()
    held: frozenset[tuple[int, int]] = frozenset()
    open: dict[tuple[int, int], set[trio.CancelScope]] = field(default_factory=dict)

    def is_cut(self, route: Route) -> bool:
        return is_split(self.sides, route.ends)

    def is_held(self, sender: int, receiver: int) -> bool:
        return (sender, receiver) in self.held

    def apply(self, sides: Sides) -> None:
        """The network split into `sides`: the connections open through a link between two
        of them close."""
        for ends, scopes in self.open.items():
            if is_split(sides, ends) and not is_split(self.sides, ends):
                for scope in scopes:
                    scope.cancel()
        self.sides = sides


async def follow_cuts(path: Path, cuts: Cuts) -> None:
    """The sides and held directions the file at `path` gives (the network whole while
    it is absent)."""
    while True:
        try:
            spec = json.loads(path.read_text())
        except FileNotFoundError:
            spec = {"sides": [], "held": []}
        cuts.apply(tuple(frozenset(side) for side in spec["sides"]))
        cuts.held = frozenset((a, b) for a, b in spec["held"])
        await trio.sleep(CUT_POLL_S)


async def serve(routes: list[Route], seed: int = 0, cut_file: Path | None = None) -> None:
    rng = random.Random(seed)
    cuts = Cuts()
    async with trio.open_nursery() as nursery:
        if cut_file is not None:
            nursery.start_soon(follow_cuts, cut_file, cuts)
        for route in routes:
            listeners = await trio.open_tcp_listeners(route.listen_port, host="127.0.0.1")
            handler = partial(forward, route=route, rng=rng, cuts=cuts)
            nursery.start_soon(trio.serve_listeners, handler, listeners)


async def forward(client: trio.SocketStream, route: Route, rng: random.Random, cuts: Cuts) -> None:
    """One connection through the link: each way delayed; over when either side ends, or
    when either end is cut off."""
    async with client:
        if cuts.is_cut(route):
            return
        try:
            upstream = await trio.open_tcp_stream("127.0.0.1", route.target_port)
        except OSError:
            return  # the node is not up: the dialler sees its connection closed
        async with upstream:
            scope = trio.CancelScope()
            cuts.open.setdefault(route.ends, set()).add(scope)
            if cuts.is_cut(route):  # cut while the upstream dial was under way
                scope.cancel()
            try:
                with scope:
                    dialler, dialled = route.ends
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(
                            carry, client, upstream, route.link, rng, scope,
                            partial(cuts.is_held, dialler, dialled),
                        )  # fmt: skip
                        nursery.start_soon(
                            carry, upstream, client, route.link, rng, scope,
                            partial(cuts.is_held, dialled, dialler),
                        )  # fmt: skip
            finally:
                cuts.open[route.ends].discard(scope)


async def carry(
    source: trio.SocketStream,
    sink: trio.SocketStream,
    link: Link,
    rng: random.Random,
    connection: trio.CancelScope,
    is_held: Callable[[], bool],
) -> None:
    """Bytes from `source` to `sink`, each chunk when its delay is over and the direction
    is not held, in order; when the source ends or either side breaks, what was read is
    delivered and the whole connection closes."""
    send, receive = trio.open_memory_channel[tuple[float, bytes]](math.inf)

    async def deliver() -> None:
        async with receive:
            async for due, data in receive:
                await trio.sleep_until(due)
                while is_held():
                    await trio.sleep(CUT_POLL_S)
                await sink.send_all(data)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(deliver)
            async with send:
                last_due = 0.0
                while data := await source.receive_some(READ_BYTES):
                    due = trio.current_time() + link.get_delay_s(len(data), rng)
                    last_due = max(last_due, due)
                    send.send_nowait((last_due, data))
    except* (trio.BrokenResourceError, trio.ClosedResourceError):
        # a side reset or closed: the connection is over, as it would be (the nursery
        # groups the error, so a plain `except` let a reset end every proxy)
        pass
    connection.cancel()


def main(argv: list[str]) -> None:
    spec = Path(argv[0])
    routes = [
        Route(r["listen_port"], r["target_port"], Link(**r["link"]), tuple(r["ends"]))
        for r in json.loads(spec.read_text())
    ]
    trio.run(serve, routes, 0, spec.with_name(CUT_FILE))


if __name__ == "__main__":
    main(sys.argv[1:])
