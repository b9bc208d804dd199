"""Which of the clique each peer is linked to, told by the peer itself.

The clique's direct topics are not relayed among its members (node/p2p/router.py): each
validator's node sends its own messages to every other, which works while every link
does. When one breaks (a partition between two regions; a link that lost one direction,
which the probes then close, node/p2p/probes.py), the two ends hear nothing of each
other: their proposals, votes and transactions reach the other only through a repair or
block sync, a round trip or seconds later, and the height waits. So each clique node
tells its clique peers, over `PROTOCOL`, which clique members it holds a live
connection to, whenever that set changes and when it meets a peer; a node relays a
clique member's message on a direct topic to the clique peers that said they are not
linked to its publisher, as GossipSub would relay it to anyone. A fully linked clique
relays nothing, as before.

A peer's word is only about itself: a node that lies about its links gets a copy more
of some messages, never another node's; ids outside the clique are dropped.

Wire (msgpack lists, first element the format version):
  request   [1, [peer id, ...]]     the asker's links to the clique
  response  [1, [peer id, ...]]     the answerer's
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from records.codec import (
    MAX_VALIDATORS,
    WIRE_VERSION,
    expect_list,
    expect_str,
    expect_versioned,
    pack,
    unpack,
)

PROTOCOL = "/clearnode/links/1"
MAX_PEER_ID_CHARS = 64
"""An Ed25519 peer id in base58 is 52 characters."""
MAX_LINKS_BYTES = 16 + MAX_VALIDATORS * (MAX_PEER_ID_CHARS + 2)


def encode_links(links: Iterable[str]) -> bytes:
    return pack([WIRE_VERSION, sorted(links)])


def decode_links(data: bytes) -> frozenset[str]:
    what = "clique links"
    _, links = expect_versioned(unpack(data, what, MAX_LINKS_BYTES), what, 2)
    items = expect_list(links, f"{what}.peers", max_len=MAX_VALIDATORS)
    return frozenset(expect_str(p, f"{what}.peer", MAX_PEER_ID_CHARS) for p in items)


@dataclass
class CliqueLinks:
    """What each clique peer said it is linked to, and what this node told each."""

    clique: frozenset[str] = frozenset()
    said: dict[str, frozenset[str]] = field(default_factory=dict)
    """Peer -> the clique members it said it holds a live connection to."""
    told: dict[str, frozenset[str]] = field(default_factory=dict)
    """Peer -> what this node last told it (and it heard)."""

    def note_said(self, peer: str, links: frozenset[str]) -> None:
        if peer in self.clique:
            self.said[peer] = links & self.clique

    def misses(self, peer: str, origin: str) -> bool:
        """Whether clique member `peer` said it is not linked to clique member `origin`."""
        said = self.said.get(peer)
        return said is not None and origin != peer and origin not in said

    def get_cut_off(self, origin: str) -> list[str]:
        """The clique peers that said they are not linked to `origin` (none while the
        clique is whole: a relay asks this of every message, so it looks only at what
        was said)."""
        return [peer for peer in self.said if self.misses(peer, origin)]

    def get_live(self, own: str, connected: Iterable[str]) -> frozenset[str]:
        """The clique members this node (`own`) holds a live connection to."""
        return frozenset(connected) & self.clique - {own}

    def get_due(self, own: str, connected: Iterable[str]) -> tuple[frozenset[str], list[str]]:
        """This node's links to the clique, and the connected clique peers to tell them
        (those never told, or told otherwise). A peer no longer connected is forgotten:
        what it says and what it was told start afresh when it is back."""
        live = self.get_live(own, connected)
        for gone in set(self.told) - live:
            del self.told[gone]
        for gone in set(self.said) - live:
            del self.said[gone]
        return live, sorted(p for p in live if self.told.get(p) != live)
