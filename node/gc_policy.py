"""How a node's process collects cyclic garbage.

A node holds its whole clearing state in memory (hundreds of thousands of positions and
accounts) and allocates a few small records per trade. With CPython's default
thresholds (700, 10, 10) the youngest generation is collected every 700 net allocations
and the older generations, which hold the growing book, are traversed again and again.
Collecting the young generation every 10,000 allocations instead (`python -m bench
ledger`: 58,000-59,700 -> 61,000-63,400 trades/s) leaves a few thousand small records
more before a pass, and reference counting still frees every acyclic record at once.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (10_000, 10, 10)
"""`gc.set_threshold`'s (generation 0, 1, 2) for a node's process."""


def set_gc_policy() -> None:
    """Set the node's collection thresholds; `clearnode start` calls it before anything
    is loaded, and the ledger bench does, to measure the node's path."""
    gc.set_threshold(*GC_THRESHOLDS)
