"""Quiet links are probed, and a link that stops answering is closed.

The gossip checks (node/p2p/links.py) see a dead link through what this node sends on
it, and an idle network sends little: a connection cut by a partition stayed up, its
TCP resending with a backoff that reaches tens of seconds, and when the link came back
neither side spoke on it, nor opened another. A 40 s split of an idle network then took
19.7 s after healing to commit again. So a peer heard nothing from for `QUIET_S` is
asked a probe, answered by echoing it; `UNANSWERED_TO_CLOSE` probes in a row with no
answer within `PROBE_TIMEOUT_S` close the connection, and the redial of persistent
peers finds the link again once it is back. Any answer counts, a refusal included (a
peer of an older release that does not serve the probe still answers), and so does
anything heard from the peer while a probe waits: two probes, not one, because a
process that stalled for seconds wakes to find its own probe timed out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PROBE_PROTOCOL = "/clearnode/probe/1"
PROBE_BYTES = 8
QUIET_S = 2.0
"""A peer heard nothing from for this long is probed. An idle network of validators
speaks about once a second, so a live link is rarely probed: at 1 s, probes took an
idle node from 0.035 to 0.043 of a core."""
PROBE_TIMEOUT_S = 3.0
"""A probe's answer takes two round trips and a stream's opening: well under a second
across the world."""
UNANSWERED_TO_CLOSE = 2


async def answer_probe(peer: str, probe: bytes) -> bytes:
    return probe


@dataclass
class QuietLinks:
    """When each connected peer was last heard from, and its probes' fate."""

    heard: dict[str, float] = field(default_factory=dict)
    unanswered: dict[str, int] = field(default_factory=dict)
    probing: set[str] = field(default_factory=set)

    def note_heard(self, peer: str, now: float) -> None:
        self.heard[peer] = now
        self.unanswered.pop(peer, None)

    def get_due(self, connected: Iterable[str], now: float) -> list[str]:
        """The connected peers to probe now; a peer first seen counts as heard now. Peers
        no longer connected are forgotten."""
        connected = set(connected)
        for peer in set(self.heard) - connected:
            self.heard.pop(peer)
            self.unanswered.pop(peer, None)
        due = []
        for peer in sorted(connected - self.probing):
            if now - self.heard.setdefault(peer, now) >= QUIET_S:
                due.append(peer)
        return due

    def is_dead(self, peer: str, probed_at: float) -> bool:
        """A probe sent at `probed_at` went unanswered: whether that makes the link dead
        (nothing else heard from the peer since, and enough probes in a row)."""
        if self.heard.get(peer, probed_at) > probed_at:
            return False
        self.unanswered[peer] = self.unanswered.get(peer, 0) + 1
        return self.unanswered[peer] >= UNANSWERED_TO_CLOSE
