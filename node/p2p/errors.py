"""Typed errors of the p2p adapter: each carries the numbers that explain it."""

from __future__ import annotations

from node.framing import FrameError, MessageTooLarge

__all__ = [
    "FrameError",
    "MessageTooLarge",
    "P2PError",
    "RequestFailed",
    "UnknownTopic",
    "WrongChain",
]


class P2PError(Exception):
    """Base of the errors `node.p2p` defines; it also raises node/framing.py's two (a
    frame or message over its cap, a stream ended inside a frame)."""


class RequestFailed(P2PError):
    """A request/response exchange with a peer did not produce a response."""

    def __init__(self, peer: str, protocol: str, reason: str) -> None:
        super().__init__(f"request {protocol} to {peer} failed: {reason}")
        self.peer = peer
        self.protocol = protocol
        self.reason = reason


class UnknownTopic(P2PError):
    """Publishing or listening on a topic the node was not opened with."""

    def __init__(self, topic: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown topic {topic!r}; known: {', '.join(known)}")
        self.topic = topic
        self.known = known


class WrongChain(ValueError):
    """A gossiped record (a price observation, a bridge message) signed for another
    clearing network: refused by its topic, never relayed."""

    def __init__(self, record: str, expected: int, found: int) -> None:
        super().__init__(f"{record} for chain {found}, this network is chain {expected}")
        self.record = record
        self.expected = expected
        self.found = found
