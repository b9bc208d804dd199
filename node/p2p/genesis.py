"""The genesis handshake: what two nodes exchange first on every new connection (the
streams it runs on: node/p2p/handshake.py).

A node of another genesis (one byte of its file changed) would otherwise sync the
network's blocks, follow them on a state of its own and slow the network down at its
proposer heights, silently. So before any gossip or block sync, each side opens one
stream of GENESIS_PROTOCOL on a new connection, inbound or outbound, and sends its genesis
hash (`GenesisHello`); the other records it, then answers with its own. Each side thus
learns the other's hash from the request it answers or from the answer it reads,
whichever comes first, and a side whose own exchange fails still knows the hash its
peer's exchange brought.

Until a peer's hash is known to be ours (`GenesisGate`), the host opens no gossip stream
to it, holds its gossip stream and its requests unread (node/p2p/pubsub.py, requests.py) and
counts it as no connected peer (block sync, requests). A peer of another genesis has its
connections closed, is logged once at warning and counted (`OtherGenesisPeers`, which
CometBFT's refusals of another network feed too: node/cometbft/runtime.py), and is not
redialled for OTHER_GENESIS_REDIAL_S.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any

import trio

from records.codec import pack, unpack
from records.declared import Bytes, Declared, declare_record

log = logging.getLogger(__name__)

GENESIS_PROTOCOL = "/clearnode/genesis/1"
WIRE_VERSION = 1
MAX_HELLO_BYTES = 64
HANDSHAKE_TIMEOUT_S = 10.0
"""How long a new connection may go without both hashes known: then it is closed."""
OTHER_GENESIS_REDIAL_S = 60.0
"""How long a persistent peer found on another genesis waits before it is dialled again: its
operator has to restart it on the right genesis, which no redial hastens (and it dials
us when it is back)."""
PEERS_REMEMBERED = 4096
"""Peers whose handshake is remembered (bounded: the least recently met are forgotten)."""


@declare_record(head=WIRE_VERSION)
@dataclass(frozen=True)
class GenesisHello(Declared):
    """What each side of a new connection says first: the SHA-256 of its genesis file."""

    genesis_hash: Annotated[bytes, Bytes(32)]

    def encode(self) -> bytes:
        return pack(self.to_fields())

    @staticmethod
    def decode(data: bytes) -> GenesisHello:
        return GenesisHello.from_fields(unpack(data, "GenesisHello", MAX_HELLO_BYTES))


@dataclass
class _Handshake:
    """What a peer said on each of its connections since it last had none open."""

    learnt: trio.Event = field(default_factory=trio.Event)
    said: dict[Any, bytes] = field(default_factory=dict)
    """Connection -> the genesis hash said on it (two dials crossing make two)."""

    def is_stale(self) -> bool:
        """Every connection it spoke on has closed: the peer may have restarted on another
        genesis, so its next connection says again."""
        return bool(self.said) and all(conn.is_closed for conn in self.said)


class GenesisGate:
    """Which peers said they run genesis `ours` on their open connections; `ours` None
    admits everyone unasked (hosts of the library's own tests)."""

    def __init__(self, ours: bytes | None) -> None:
        self.ours = ours
        self._peers: OrderedDict[str, _Handshake] = OrderedDict()
        self._others: OrderedDict[str, bytes] = OrderedDict()
        """The peers whose latest handshake named another genesis, and that genesis: they
        stay such across connections, until one names ours."""

    def _get_current(self, peer: str) -> _Handshake:
        found = self._peers.get(peer)
        if found is not None and not found.is_stale():
            return found
        if found is not None:
            found.learnt.set()  # wakes its waiters, who then wait on the new one
        current = self._peers[peer] = _Handshake()
        self._peers.move_to_end(peer)
        while len(self._peers) > PEERS_REMEMBERED:
            self._peers.popitem(last=False)[1].learnt.set()
        return current

    def learn(self, peer: str, conn: Any, theirs: bytes) -> None:
        """`peer` said `theirs` on `conn`."""
        current = self._get_current(peer)
        current.said = {c: t for c, t in current.said.items() if not c.is_closed}
        current.said[conn] = theirs
        if theirs == self.ours:
            self._others.pop(peer, None)
        else:
            self._others[peer] = theirs
            self._others.move_to_end(peer)
            while len(self._others) > PEERS_REMEMBERED:
                self._others.popitem(last=False)
        current.learnt.set()

    def get_other_genesis(self, peer: str) -> bytes | None:
        """The other genesis `peer` named in its latest handshake (None: ours, or none yet),
        whether or not that connection is still open."""
        return self._others.get(peer)

    def _get_theirs(self, peer: str) -> bytes | None:
        """What `peer`'s open connections said: another genesis if any said one, else ours;
        None before any said."""
        found = self._peers.get(peer)
        said = [] if found is None else [t for c, t in found.said.items() if not c.is_closed]
        return next((t for t in said if t != self.ours), said[0] if said else None)

    def is_admitted(self, peer: str) -> bool:
        return self.ours is None or self._get_theirs(peer) == self.ours

    async def wait(self, peer: str) -> bool:
        """Whether `peer` runs our genesis, once its handshake says (False when it has not
        within HANDSHAKE_TIMEOUT_S)."""
        if self.ours is None:
            return True
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S):
            while True:
                current = self._get_current(peer)
                theirs = self._get_theirs(peer)
                if theirs is not None:
                    return theirs == self.ours
                await current.learnt.wait()
        return False


@dataclass(frozen=True)
class OtherGenesisPeer:
    """A peer refused for running another genesis: its id and address as far as known, and
    what each side runs (genesis hashes, or CometBFT's chain ids, which carry them)."""

    layer: str
    """Who refused it: "libp2p" (the handshake above) or "cometbft" (its network name)."""
    peer: str
    address: str
    theirs: str
    ours: str


class OtherGenesisPeers:
    """Peers refused for another genesis: each logged once at warning (per peer and what it
    runs), every refusal counted by layer (`clearnode_peers_other_genesis_total`)."""

    def __init__(self) -> None:
        self.refusals: Counter[str] = Counter()
        self._logged: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def refuse(self, found: OtherGenesisPeer) -> None:
        self.refusals[found.layer] += 1
        key = (found.layer, found.peer, found.theirs)
        if key in self._logged:
            return
        self._logged[key] = None
        while len(self._logged) > PEERS_REMEMBERED:
            self._logged.popitem(last=False)
        log.warning(
            "refusing peer %s at %s (%s): it runs %s, this node %s: a node of another genesis",
            found.peer, found.address, found.layer, found.theirs, found.ours,
        )  # fmt: skip
