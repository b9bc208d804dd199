"""The state of each persistent peer's link, as the operator sees it.

A persistent peer at a wrong address, or one that is down, shows nowhere else: the redial
loops (`P2PNode.keep_connected`, CometBFT's own) retry quietly, as they must for a peer
that restarts. So each configured peer's link is kept here, by layer (the libp2p host's
`[p2p] persistent_peers`; on a CometBFT node also CometBFT's `[cometbft]
persistent_peers`): connected or not, since when, the last dial's error. It feeds
`GET /v1/status`'s `p2p.persistent_peers` and the `clearnode_persistent_peer_up` metric,
and an outage is logged once, at warning, once it has lasted a few dials: long enough
that a peer restarting (its dials refused, its handshakes cut) is not reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

LIBP2P = "libp2p"
FAILED_DIALS_WARNED = 6
"""Failed dials in a row before an outage is logged: with the libp2p redial's backoff
(0.2 s doubling up to 5 s), some 11 s of failures, longer than a node's restart (a
CometBFT node's libp2p host is down about 5 s) leaves its port closed; CometBFT redials
every 5 s, so 30 s there."""
CONFIG_KEYS = {LIBP2P: "[p2p] persistent_peers", "cometbft": "[cometbft] persistent_peers"}
"""Where each layer's persistent peers are configured, for the warning."""


@dataclass
class PeerLink:
    """One persistent peer's link: `since_ms` is when `connected` last changed (or when
    the node started), `last_error` the latest failed dial's reason."""

    layer: str
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
            "layer": self.layer,
            "peer": self.peer,
            "address": self.address,
            "connected": self.connected,
            "since_ms": self.since_ms,
            "failed_dials": self.failed_dials,
            "last_error": self.last_error,
        }


class PeerLinks:
    """The persistent peers' links by layer and peer id, updated by their redial loops."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self._links: dict[tuple[str, str], PeerLink] = {}

    def add(self, layer: str, peer: str, address: str) -> None:
        self._links[layer, peer] = PeerLink(layer, peer, address, self._clock_ms())

    def get_peers(self, layer: str) -> list[str]:
        return [peer for (of, peer) in self._links if of == layer]

    def record_link(self, layer: str, peer: str, connected: bool) -> None:
        """Whether `peer` has a live connection now (dialled by either side)."""
        link = self._links[layer, peer]
        if connected == link.connected:
            return
        if connected and link.warned:
            log.info(
                "persistent peer %s at %s (%s) connected after %d failed dials",
                peer, link.address, layer, link.failed_dials,
            )  # fmt: skip
        link.connected, link.since_ms = connected, self._clock_ms()
        if connected:
            link.failed_dials, link.warned = 0, False

    def record_failure(self, layer: str, peer: str, reason: str, *, logged: bool = False) -> None:
        """A dial of `peer` failed, or its connection closed at once, for `reason`;
        `logged`: the caller has told the operator already (a peer of another genesis)."""
        self.record_link(layer, peer, False)
        link = self._links[layer, peer]
        link.warned = link.warned or logged
        link.last_error = reason
        link.failed_dials += 1
        if link.failed_dials >= FAILED_DIALS_WARNED and not link.warned:
            link.warned = True
            log.warning(
                "persistent peer %s at %s (%s) cannot be reached (%d dials failed, the last: "
                "%s); retrying. Check the address in %s and that the peer runs",
                peer, link.address, layer, link.failed_dials, reason, CONFIG_KEYS[layer],
            )  # fmt: skip

    def get_view(self) -> list[dict[str, object]]:
        return [self._links[key].get_view() for key in sorted(self._links)]

    def get_keys(self) -> list[tuple[str, str, str]]:
        """(layer, peer, address) of each persistent peer."""
        return [(link.layer, link.peer, link.address) for link in self._links.values()]

    def is_connected(self, layer: str, peer: str) -> bool:
        return self._links[layer, peer].connected
