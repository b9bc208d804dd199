"""The node's one reading of wall-clock time (block proposals, queries, the oracle).

Only the node reads the clock; clearing and consensus get time from blocks.
"""

from __future__ import annotations

import time


def wall_clock_ms() -> int:
    """Unix time in whole milliseconds."""
    return time.time_ns() // 1_000_000
