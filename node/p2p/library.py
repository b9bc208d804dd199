"""py-libp2p 0.8.1 as a node runs it: the host built, its dialer and listener patched, its
logs routed through ours.

Each patch says what the library did and what was measured; docs/architecture.md
("Working around py-libp2p 0.8.1") lists them. `build_host` applies them all before the
first host exists, so every host of the process runs patched.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network import swarm as libp2p_swarm
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.network.swarm import Swarm
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.mplex.mplex import MPLEX_PROTOCOL_ID, Mplex
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.transport.exceptions import OpenConnectionError
from libp2p.transport.tcp import tcp as libp2p_tcp

from node.p2p.peer_records import verify_each_record_once


def route_library_logs() -> None:
    """Sends py-libp2p's records through our handlers, errors only.

    The library turns propagation off and gives some module loggers their own
    INFO level; dial failures are reported by our redial loop instead.
    """
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("libp2p."):
            logging.getLogger(name).setLevel(logging.NOTSET)
    root = logging.getLogger("libp2p")
    root.propagate = True
    root.setLevel(logging.ERROR)
    for noisy in ("libp2p.transport.tcp", "libp2p.host.basic_host"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    swarm = logging.getLogger("libp2p.network.swarm")
    if not any(isinstance(f, _DialFailuresFilter) for f in swarm.filters):
        swarm.addFilter(_DialFailuresFilter())


DIAL_FAILURE_LINES = ("failed to upgrade security for peer", "fail to upgrade mux for peer")


class _DialFailuresFilter(logging.Filter):
    """Drops the library's error line for a dial whose handshake failed: the failure
    reaches our redial as an exception, and a persistent peer that stays unreachable is
    reported there (`PeerLinks`); a peer restarting fails a few handshakes, which is no
    error (the library logged each at error level, every redial)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(DIAL_FAILURE_LINES)


MUXERS: dict[str, tuple[str, type]] = {
    "yamux": (YAMUX_PROTOCOL_ID, Yamux),
    "mplex": (MPLEX_PROTOCOL_ID, Mplex),
}


async def _open_exclusive_listeners(host: str | None, port: int) -> list[trio.SocketListener]:
    """Plain listeners (SO_REUSEADDR only, as trio's): a port another socket listens on
    is refused, so a second node given the same port cannot start beside the first."""
    return list(await trio.open_tcp_listeners(port, host=host))


def _listen_exclusively() -> None:
    """py-libp2p 0.8.1 listens with SO_REUSEPORT, for NAT hole punching (which we do not
    use): two nodes started at once on one port both listened, and the kernel split the
    inbound connections between them. Its listener opens its sockets with this function."""
    if not hasattr(libp2p_tcp, "_open_reuseport_listeners"):
        raise RuntimeError("py-libp2p's TCP listener changed: revisit _listen_exclusively")
    libp2p_tcp._open_reuseport_listeners = _open_exclusive_listeners


DIAL_ERROR_DEPTH = 16
"""Wrappers a dial's error is looked through for its cause (py-libp2p 0.8.1: six)."""


def describe_dial_failure(exc: BaseException) -> str:
    """What made a dial fail, for an operator: py-libp2p wraps the socket's error (e.g.
    `ConnectionRefusedError: [Errno 111] ...`) four deep, under "unable to connect ...,
    no addresses established a successful connection (with exceptions)"."""
    cause = get_dial_cause(exc)
    return f"{type(cause).__name__}: {cause}"


def get_dial_cause(exc: BaseException) -> BaseException:
    """The innermost error under a failed dial's wrappers."""
    cause = exc
    for _ in range(DIAL_ERROR_DEPTH):
        inner = getattr(cause, "errors", None) or getattr(cause, "exceptions", None)
        found = inner[0] if inner else cause.__cause__
        if found is None:
            break
        cause = found
    return cause


TCP_CONNECT_S = 2.0
"""Longest a dial waits for the peer's host to answer its TCP connection: a round trip
across the world, and one SYN lost and resent after the kernel's first second."""


class TcpNoAnswer(OpenConnectionError):
    """No host answered a dial's TCP connection within `TCP_CONNECT_S`."""


def _bound_tcp_connects() -> None:
    """py-libp2p 0.8.1 waits on a dial's TCP connection as long as the kernel does.
    While a link is down the kernel resends the SYN 1, 3, 7, 15, 31 and 63 s after the
    first, so a dial begun during a partition connected at the first resend after the
    link came back: 7 s after a 60 s split healed (python -m bench partitions), half a
    minute after a longer one. A dial given up after `TCP_CONNECT_S` is redialled with
    a fresh SYN instead (`keep_connected`)."""
    dial = libp2p_tcp.TCP.dial
    if getattr(dial, "bounded", False):
        return

    async def bounded_dial(transport: libp2p_tcp.TCP, maddr: multiaddr.Multiaddr) -> Any:
        with trio.move_on_after(TCP_CONNECT_S):
            return await dial(transport, maddr)
        raise TcpNoAnswer(f"no answer from {maddr} within {TCP_CONNECT_S} s")

    bounded_dial.bounded = True  # type: ignore[attr-defined]
    libp2p_tcp.TCP.dial = bounded_dial  # type: ignore[method-assign, assignment]


def _dial_at_once() -> None:
    """py-libp2p 0.8.1 dials a peer's best address, then waits 250 ms (happy eyeballs)
    for it to fail before trying a second address of another transport, even when the
    dial has succeeded: every connect took 250 ms, not the 6 ms a loopback dial takes.
    It picks at most one address per transport, so a host with TCP alone has no second
    address to wait for."""
    if not hasattr(libp2p_swarm, "_HAPPY_EYEBALLS_DELAY"):
        raise RuntimeError("py-libp2p's dialer changed: revisit _dial_at_once")
    libp2p_swarm._HAPPY_EYEBALLS_DELAY = 0


def build_host(key_seed: bytes, muxer_name: str) -> Any:
    """A host of the identity `key_seed` (an Ed25519 seed) over TCP + Noise + `muxer_name`."""
    _listen_exclusively()
    _dial_at_once()
    _bound_tcp_connects()
    verify_each_record_once()
    # py-libp2p's yamux sends a window update after every read by default, and
    # pubsub reads its varint lengths one byte at a time: three times the
    # latency measured here with four hosts. Batch the updates (go-yamux style).
    os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")
    key_pair = create_new_key_pair(key_seed)
    muxer_id, muxer = MUXERS[muxer_name]
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: noise},
        muxer_opt={TProtocol(muxer_id): muxer},
        # No background dialling of every peer ever seen: persistent peers are ours to redial.
        connection_config=ConnectionConfig(min_connections=0, low_watermark=0),
    )
    route_library_logs()
    # We own redialling (with backoff); the library's own retries would stall a dial for seconds.
    network = host.get_network()
    assert isinstance(network, Swarm), "new_host builds a Swarm"
    network.retry_config = RetryConfig(max_retries=0)
    return host
