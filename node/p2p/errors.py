"""Typed errors of the p2p adapter: each carries the numbers that explain it."""

from __future__ import annotations


class P2PError(Exception):
    """Base of every error raised by `node.p2p`."""


class MessageTooLarge(P2PError):
    """A message or frame is bigger than the cap of its topic or protocol."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what}: {size} bytes exceeds the cap of {limit} bytes")
        self.what = what
        self.size = size
        self.limit = limit


class FrameError(P2PError):
    """A stream ended or was malformed in the middle of a frame."""

    def __init__(self, reason: str, received: int, expected: int) -> None:
        super().__init__(f"{reason}: received {received} of {expected} bytes")
        self.reason = reason
        self.received = received
        self.expected = expected


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
