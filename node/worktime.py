"""Where a node's event loop spends its CPU: seconds per part of the work.

The node runs its work on one trio thread. `WorkTime.measure(part)` adds the CPU time
that thread spent in a synchronous call to `part`, less what calls measured inside it
took (each second counts once, in its innermost part), and `/metrics` serves the totals
as `clearnode_busy_seconds_total{part}`; the process's CPU time less their sum is the
libp2p host, the HTTP API, the SQLite writer threads and the rest. A wait inside a
call (an fsync) is not CPU and counts nowhere: the consensus step it delays shows it
(`clearnode_consensus_step_seconds`). `python -m bench network` reads them at its
highest sustained rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

GOSSIP_DECODE = "gossip_decode"
"""First-hop decoding and checks of gossip messages, before relaying."""
TX_CHECK = "tx_check"
"""Mempool admission: decoding, the venue's or member's signature, replay windows."""
TX_RECHECK = "tx_recheck"
"""The mempool's re-check of what is still pending after each block."""
CONSENSUS = "consensus"
"""The consensus engine: votes' and proposals' signatures, the WAL, the state machine."""
PROPOSAL_CHECK = "proposal_check"
"""The application's check of a proposed block (limits, every transaction decodes)."""
BLOCK_APPLY = "block_apply"
"""Clearing applying a committed block."""
BLOCK_STORE = "block_store"
"""Storing a committed block, its history rows and snapshots (SQLite, fsync)."""
PARTS = (GOSSIP_DECODE, TX_CHECK, TX_RECHECK, CONSENSUS, PROPOSAL_CHECK, BLOCK_APPLY, BLOCK_STORE)


class WorkTime:
    """Exclusive seconds per part (see the module's docstring)."""

    def __init__(self, clock: Callable[[], float] = time.thread_time) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = clock
        self._inner: list[float] = []
        """Per measurement under way, the seconds the measurements inside it took."""

    @contextmanager
    def measure(self, part: str) -> Iterator[None]:
        start = self._clock()
        self._inner.append(0.0)
        try:
            yield
        finally:
            took = self._clock() - start
            inner = self._inner.pop()
            self.seconds[part] = self.seconds.get(part, 0.0) + took - inner
            if self._inner:
                self._inner[-1] += took

    def timed(self, part: str, fn: Callable[P, R]) -> Callable[P, R]:
        """`fn`, its calls measured as `part`."""

        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.measure(part):
                return fn(*args, **kwargs)

        return call
