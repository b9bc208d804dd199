"""The transport consensus sends through; the node plugs libp2p in.

The call must not block: an implementation enqueues the bytes (e.g. a trio
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
