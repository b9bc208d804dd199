"""The transport consensus sends through; the node plugs libp2p in.

Neither call may block: an implementation enqueues the bytes (e.g. a trio
memory channel drained by a sending task) and may drop under back-pressure,
because the engine re-gossips what matters. The engine only broadcasts: a node
behind fetches blocks itself (`consensus.sync`), nothing is sent to one peer.
"""

from __future__ import annotations

from typing import Protocol

PeerId = str


class Transport(Protocol):
    def broadcast(self, data: bytes) -> None:
        """Send one encoded message (`consensus.messages.encode_message`) to every
        connected peer."""
        ...

    def rebroadcast(self, data: bytes) -> None:
        """Send again a message of the height, its own or a peer's (the engine's re-gossip
        of a stuck round): never ahead of a fresh message, and an implementation may drop
        it while its links are busy (the next re-gossip sends it again)."""
        ...
