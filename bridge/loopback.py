"""Free TCP ports on 127.0.0.1 for the processes a devnet or a test starts (anvil chains,
nodes' listeners), chosen so that they stay free until those processes bind them.

The kernel's own choice (bind to port 0) comes from the ephemeral range, which every
outbound connection also draws its local port from: between the choice and the bind, a
node's libp2p dial or an HTTP client could take the port (a 4-node test lost its API
port that way). Ports below that range are never handed to outbound connections, and
one process never hands out the same port twice. Processes that choose ports side by side
(two devnets, or two pytest workers starting networks) each take a range of their own
through `PORTS_VARIABLE`, which the processes they start inherit: two choices of the same
free port by two processes would each hold until the later bind failed.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000
DEFAULT_EPHEMERAL_START = 32_768
"""Linux's default, where the range cannot be read."""
PORTS_VARIABLE = "CLEARNODE_LOOPBACK_PORTS"
"""`FIRST-LAST` (inclusive): the ports this process and its children choose from."""

_handed_out: set[int] = set()


def get_ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


def get_port_range() -> range:
    """The ports to choose from: `PORTS_VARIABLE`'s when set, else every port from
    LOWEST_PORT to the ephemeral range."""
    given = os.environ.get(PORTS_VARIABLE)
    if not given:
        return range(LOWEST_PORT, get_ephemeral_start())
    first, _, last = given.partition("-")
    if not (first.isdigit() and last.isdigit() and 0 < int(first) <= int(last) < 65536):
        raise ValueError(f"{PORTS_VARIABLE}={given!r}: expected FIRST-LAST, 0 < FIRST <= LAST")
    return range(int(first), int(last) + 1)


def get_free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now, of `get_port_range()`, not handed out
    before by this process."""
    ports = get_port_range()
    for _ in range(1000):
        port = random.choice(ports)
        if port in _handed_out or not is_free(port):
            continue
        _handed_out.add(port)
        return port
    raise OSError(f"no free port on 127.0.0.1 between {ports.start} and {ports.stop - 1}")


def is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
