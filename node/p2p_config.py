"""The `[p2p]` section of `config.toml`: where the node listens and is reached, and
its peers (each address checked as a libp2p multiaddr with the peer's id).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from node.config_table import ConfigError, ConfigTable
from node.keys import (
    check_peer_id,
)

P2P_ADDRESS = r"/(ip4|ip6|dns|dns4|dns6)/([^/\s]+)/tcp/([0-9]{1,5})"
"""A dialable p2p address: a multiaddr host and TCP port, without its /p2p/<peer id>."""
UNSPECIFIED_HOSTS = ("0.0.0.0", "::")
"""Listen hosts meaning every interface: no peer can dial them."""
DNS_NAME = r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?)+"


def check_p2p_address(text: str) -> str:
    """`text` if other validators can dial it: a multiaddr host and TCP port, no /p2p part,
    not an unspecified (listen-on-all) address; ValueError saying why not."""
    found = re.fullmatch(P2P_ADDRESS, text)
    if found is None:
        raise ValueError(f"{text!r} is not /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT")
    protocol, host, port = found.groups()
    if protocol in ("ip4", "ip6"):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IP address") from None
        if address.version != int(protocol[-1]):
            raise ValueError(f"{text!r}: {host!r} is not an IPv{protocol[-1]} address")
    elif re.fullmatch(DNS_NAME, host) is None:
        raise ValueError(f"{text!r}: {host!r} is not a DNS name")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: port {port} is not in 1..65535")
    if host in UNSPECIFIED_HOSTS:
        raise ValueError(f"{text!r} is an unspecified address no peer can dial")
    return text


def check_peer_address(text: str) -> str:
    """`text` if the node can dial it as a persistent peer: a dialable address (as
    `check_p2p_address`) then `/p2p/` and the peer's id; ValueError saying why not."""
    address, separator, peer = text.rpartition("/p2p/")
    if not separator:
        raise ValueError(f"{text!r} has no /p2p/<peer id> part")
    try:
        check_p2p_address(address)
        check_peer_id(peer)
    except ValueError as exc:
        raise ValueError(f"in {text!r}: {exc}") from None
    return text


@dataclass(frozen=True)
class P2PConfig:
    listen_host: str = "0.0.0.0"
    listen_port: int = 26656
    # multiaddrs with /p2p/<peer id>, dialled and re-dialled by the node
    persistent_peers: tuple[str, ...] = ()
    observers: tuple[str, ...] = ()
    """Peer ids of the full nodes allowed to connect besides the genesis validators."""
    external_address: str = ""
    """Where the other validators dial this node (a multiaddr without /p2p), when not
    listen_host:listen_port: `clearnode genesis contribution` announces it."""


def read_p2p(t: ConfigTable) -> P2PConfig:
    return P2PConfig(
        listen_host=t.text("listen_host", P2PConfig.listen_host),
        listen_port=t.integer("listen_port", P2PConfig.listen_port, hi=65535),
        persistent_peers=_peer_addresses(t, "persistent_peers"),
        observers=_peer_ids(t, "observers"),
        external_address=_external_address(t),
    )


def _external_address(t: ConfigTable) -> str:
    expected = "a dialable multiaddr /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT (no /p2p, not 0.0.0.0)"
    text = t.text("external_address", "", expected=expected)
    try:
        return text and check_p2p_address(text)
    except ValueError as exc:
        raise t.fail("external_address", f"a dialable multiaddr ({exc})", text) from None


def _peer_addresses(t: ConfigTable, name: str) -> tuple[str, ...]:
    expected = "a peer's multiaddr /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT/p2p/PEER_ID"
    addresses = t.list_of(name, str, expected)
    for index, text in enumerate(addresses):
        try:
            check_peer_address(text)
        except ValueError as exc:
            raise ConfigError(t.file, f"{t.key(name)}[{index}]", expected, str(exc)) from None
    return addresses


def _peer_ids(t: ConfigTable, name: str) -> tuple[str, ...]:
    ids = t.list_of(name, str, "a libp2p peer id string")
    for index, text in enumerate(ids):
        try:
            check_peer_id(text)
        except ValueError as exc:
            raise ConfigError(
                t.file, f"{t.key(name)}[{index}]", "a libp2p peer id", str(exc)
            ) from None
    return ids
