"""The state of each persistent peer's link, as the operator sees it.

A persistent peer at a wrong address, or one that is down, shows nowhere else: the redial
loop (`P2PNode.keep_connected`) retries quietly, as it must for a peer that restarts. So
each configured peer's link is kept here (connected or not, since when, the last dial's
error) for `GET /v1/status`'s `p2p` section and the `clearnode_persistent_peer_up`
metric, and an outage is logged once, at warning, once it has lasted a few dials: long
enough that a peer restarting (its dials refused, its handshakes cut) is not reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FAILED_DIALS_WARNED = 6
"""Failed dials in a row before an outage is logged: with the redial's backoff (0.2 s
doubling up to 5 s), some 11 s of failures, longer than a node's restart (a CometBFT
node's libp2p host is down about 5 s) leaves its port closed."""


@dataclass
class PeerLink:
    """One persistent peer's link: `since_ms` is when `connected` last changed (or when
    the node started), `last_error` the latest failed dial's reason."""

    peer: str
    address: str
    since_ms: int
    connected: bool = False
    last_error: str | None = None
    failed_dials: int = 0
    """Failed dials since the last connection."""
    warned: bool = False

    def get_view(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "address": self.address,
            "connected": self.connected,
            "since_ms": self.since_ms,
            "failed_dials": self.failed_dials,
            "last_error": self.last_error,
        }


class PeerLinks:
    """The persistent peers' links by peer id, updated by their redial loops."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self._links: dict[str, PeerLink] = {}

    def add(self, peer: str, address: str) -> None:
        self._links[peer] = PeerLink(peer, address, self._clock_ms())

    def record_link(self, peer: str, connected: bool) -> None:
        """Whether `peer` has a live connection now (dialled by either side)."""
        link = self._links[peer]
        if connected == link.connected:
            return
        if connected and link.warned:
            log.info(
                "persistent peer %s at %s connected after %d failed dials",
                peer, link.address, link.failed_dials,
            )  # fmt: skip
        link.connected, link.since_ms = connected, self._clock_ms()
        if connected:
            link.failed_dials, link.warned = 0, False

    def record_failure(self, peer: str, reason: str, *, logged: bool = False) -> None:
        """A dial of `peer` failed, or its connection closed, for `reason`; `logged`: the
        caller has told the operator already (a peer of another genesis)."""
        link = self._links[peer]
        link.warned = link.warned or logged
        if link.connected:
            link.connected, link.since_ms = False, self._clock_ms()
        link.last_error = reason
        link.failed_dials += 1
        if link.failed_dials >= FAILED_DIALS_WARNED and not link.warned:
            link.warned = True
            log.warning(
                "persistent peer %s at %s cannot be reached (%d dials failed, the last: %s); "
                "retrying. Check the address in [p2p] persistent_peers and that the peer runs",
                peer, link.address, link.failed_dials, reason,
            )  # fmt: skip

    def get_view(self) -> list[dict[str, object]]:
        return [self._links[peer].get_view() for peer in sorted(self._links)]

    def get_addresses(self) -> list[tuple[str, str]]:
        return [(link.peer, link.address) for link in self._links.values()]

    def is_connected(self, peer: str) -> bool:
        return self._links[peer].connected
