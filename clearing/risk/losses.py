"""Tables of kept scenario losses: many sub-accounts' ``L`` against one set of risk arrays.

A table holds the arrays' rows and, per slot, one sub-account's losses ``L_s``
(``clearing/risk/margin.py``). A trade of ``delta`` lots in the instrument of row ``i``
leaves ``L_s - delta * v[i][s]``; its initial margin is the largest of those.

Two backends give the same numbers: ``ReferenceLossTable`` (this module, Python ints,
the readable reference) and the native ``clearnode_native.LossTable`` (native/src/
losses.rs: the losses of every slot in one contiguous i64 table, which the trade path
reads without touching a Python int per scenario). The native table is exact or
refuses: a value or a result beyond the 64-bit range raises ``OverflowError`` and
changes nothing, and the holder goes on with ``get_reference_table`` of it
(``clearing/risk/cache.py``). Where the native core is not installed (the
clearnode-client distribution ships clearing without it) the reference holds every table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from clearing.risk.margin import Losses, compute_initial_margin, compute_trade_losses


class LossTable(Protocol):
    def __len__(self) -> int: ...

    def add(self, losses: Losses) -> int:
        """A new slot holding ``losses``."""
        ...

    def set(self, slot: int, losses: Losses) -> None: ...

    def get(self, slot: int) -> Losses: ...

    def get_initial_margin(self, slot: int) -> int: ...

    def get_initial_margin_after(self, slot: int, row: int, delta: int) -> int:
        """IM of the slot after ``delta`` more lots of row ``row``'s instrument."""
        ...

    def apply(self, slot: int, row: int, delta: int) -> int:
        """Add ``delta`` lots of row ``row``'s instrument to the slot; its new IM."""
        ...


class ReferenceLossTable:
    """Each slot's losses as a tuple of Python ints (no bound)."""

    def __init__(self, rows: Sequence[tuple[int, ...]], slots: Sequence[Losses] = ()) -> None:
        self.rows = tuple(rows)
        self.slots = list(slots)

    def __len__(self) -> int:
        return len(self.slots)

    def add(self, losses: Losses) -> int:
        self.slots.append(losses)
        return len(self.slots) - 1

    def set(self, slot: int, losses: Losses) -> None:
        self.slots[slot] = losses

    def get(self, slot: int) -> Losses:
        return self.slots[slot]

    def get_initial_margin(self, slot: int) -> int:
        return compute_initial_margin(self.slots[slot])

    def get_initial_margin_after(self, slot: int, row: int, delta: int) -> int:
        return compute_initial_margin(compute_trade_losses(self.slots[slot], self.rows[row], delta))

    def apply(self, slot: int, row: int, delta: int) -> int:
        self.slots[slot] = compute_trade_losses(self.slots[slot], self.rows[row], delta)
        return compute_initial_margin(self.slots[slot])


NATIVE_CORE = "clearnode_native"


def create_loss_table(scenarios: int, rows: Sequence[tuple[int, ...]]) -> LossTable:
    """The native table, or the reference where the native core is not installed or a
    risk array value leaves the 64-bit range."""
    try:
        from clearnode_native import LossTable as NativeLossTable
    except ModuleNotFoundError as exc:
        if exc.name != NATIVE_CORE:
            raise
        return ReferenceLossTable(rows)
    try:
        return NativeLossTable(scenarios, list(rows))
    except OverflowError:
        return ReferenceLossTable(rows)


def get_reference_table(table: LossTable, rows: Sequence[tuple[int, ...]]) -> ReferenceLossTable:
    """The same slots in the reference (a no-op on one)."""
    if isinstance(table, ReferenceLossTable):
        return table
    return ReferenceLossTable(rows, [table.get(slot) for slot in range(len(table))])
