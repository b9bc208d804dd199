"""A transaction kind, declared once beside its record: how a node admits it to its
mempool, how a block applies it, what a block's refusal spends, and who submits it.

Each kind's module declares it (`TRADE_BATCH` in transition/trade.py, `TRANSFER` in
transition/transfer.py); `clearing.transition.tx.KINDS` lists them all, and the rest is
derived from that list: the envelope's kinds (`decode_tx`), the block's dispatch
(`clearing.transition.block`), admission (`clearing.transition.admission`) and which API
route takes which kind (`kinds_submitted_by`).
Adding a kind is its record, its `admit` and `process`, and a line in `KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from clearing.context import BlockContext
from clearing.events import Event
from clearing.state import ClearingState


class TxRecord(Protocol):
    KIND: ClassVar[int]
    """Its number in the envelope `[version, kind, *fields]` (clearing/transition/tx.py)."""

    def to_fields(self) -> list[object]: ...


R = TypeVar("R", bound=TxRecord)


class Priority(IntEnum):
    """A kind's place in the mempool: bridge, oracle and validator inputs move collateral
    and prices and steer the chain, so they go ahead of members' requests, and those
    ahead of trades."""

    TRADES = 0
    MEMBER = 1
    SYSTEM = 2


class Submitter(Enum):
    """Who hands a kind to a node, and so which API route takes it."""

    VENUE = "venue"
    """POST /v1/trades: a venue's signed batch."""
    MEMBER = "member"
    """POST /v1/requests: a member's EIP-712 request, as JSON."""
    BRIDGE = "bridge"
    """POST /v1/bridge/events: a chain event a quorum of validators attested."""
    VALIDATOR = "validator"
    """A validator's own node: its oracle, its report service, its governance commands."""


@dataclass(frozen=True, slots=True)
class Sender:
    """Whose transaction it is and its place in that sender's order: a node's mempool
    keeps each sender's transactions in `order` (a venue's batch ids, a member's nonces),
    one per order; a transaction unique by what it says (a deposit, a payout) is a sender
    of its own, keyed by that, at order 0."""

    key: bytes
    order: int = 0


@dataclass(frozen=True, slots=True)
class Admission:
    """What admission established of a transaction that can apply: its sender, its
    place in the sender's order (the mempool's nonce) and its kind's priority."""

    sender: bytes
    nonce: int
    priority: int = Priority.TRADES


@dataclass(frozen=True, slots=True)
class TxKind(Generic[R]):
    record: type[R]
    admit: Callable[[ClearingState, BlockContext, R, bytes], Sender]
    """What can never change before it applies (its signatures bound to this chain, its
    times at the next block's, replays of what the state already spent), checked
    against the committed state without changing it (`raw`: its encoding); its sender."""
    process: Callable[[ClearingState, BlockContext, R], list[Event]]
    """Applies it in a block (checks first, then changes); raises the kind's typed error,
    with nothing changed, to refuse it."""
    priority: Priority
    submitter: Submitter
    spend_refused: Callable[[ClearingState, BlockContext, R], None] | None = None
    """What a block's refusal still spends, so that the refused bytes never apply later
    (a member request's nonce, a batch's trade ids); None: nothing."""

    @property
    def code(self) -> int:
        code: int = self.record.KIND
        return code


AnyKind = TxKind[Any]
