"""The block context: the only source of time and height for clearing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Equivocation:
    """A validator key that signed two different votes for one slot at ``height``: the
    duplicate-vote evidence consensus verified and committed in the block."""

    validator: bytes  # Ed25519 consensus key
    height: int


@dataclass(frozen=True, slots=True)
class BlockContext:
    height: int
    time_ms: int  # proposer-chosen block time; clearing reads no clock
    chain_id: int
    evidence: tuple[Equivocation, ...] = ()  # committed in the block, in block order
