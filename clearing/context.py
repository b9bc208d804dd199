"""The block context: the only source of time and height for clearing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlockContext:
    height: int
    time_ms: int  # proposer-chosen block time; clearing reads no clock
    chain_id: int
