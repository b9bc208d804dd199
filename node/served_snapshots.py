"""The snapshots peers are fetching, kept past `storage.snapshots_kept` while they do.

A state sync fetches a snapshot chunk by chunk, for minutes when the state is large or
the link slow, while the network takes a snapshot every `storage.snapshot_interval`
blocks and keeps the newest `storage.snapshots_kept`: on a loaded network the snapshot
a joining node chose can be pruned under it, and neither engine's sync finishes a
snapshot no peer holds (CometBFT asks for the missing chunk again every 10 s, without
end). Each chunk served renews a lease on its snapshot; pruning spares the snapshots
whose lease runs, the MAX_HELD most recently served at most, so no peer can make a node
keep snapshots without bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

LEASE_S = 60.0
"""Six of CometBFT's chunk timeouts (10 s): a peer that asked for no chunk of a
snapshot for this long has given it up."""
MAX_HELD = 2
"""Snapshots held past `snapshots_kept` at once: a sync in progress and the one after it
(a peer rejected, another one started)."""


class ServedSnapshots:
    """When a chunk of each snapshot was last served, by height. Chunks are served on the
    event loop and in CometBFT's ABCI handler, the leases read where blocks are saved."""

    def __init__(self, clock_s: Callable[[], float] = time.monotonic) -> None:
        self.clock_s = clock_s
        self._lock = threading.Lock()
        self._served: dict[int, float] = {}

    def record(self, height: int) -> None:
        """A chunk of the snapshot of `height` was served."""
        with self._lock:
            self._served[height] = self.clock_s()

    def get_held(self) -> frozenset[int]:
        """The heights whose lease runs: pruning spares their snapshots."""
        now = self.clock_s()
        with self._lock:
            running = [(t, h) for h, t in self._served.items() if now - t < LEASE_S]
            self._served = {h: t for t, h in sorted(running, reverse=True)[:MAX_HELD]}
            return frozenset(self._served)
