"""Kept margin figures of sub-accounts, so a trade's margin check is incremental.

A sub-account's scenario losses ``L`` and ``IM = max L`` are a pure function of
(the risk arrays, its lots). The risk cache (clearing/risk/engine.py's ``RISK_CACHE``,
derived: neither in the state root nor in a snapshot) keeps them together with exactly those inputs:

- the cache records what its arrays were built from (genesis, epoch, the options'
  pricing time when options make the arrays depend on it, every mark); a read at any
  other inputs starts a fresh cache with the current arrays;
- each entry records the positions mapping it was computed from and that
  mapping's ``revision`` (``clearing.state.Positions`` counts every record
  stored or removed); a read whose sub-account holds another mapping, or the
  same one at another revision, recomputes the entry from scratch.

So any path that changes positions (trades, liquidation, ADL, expiry, exercise,
a restored snapshot, a test writing a position: each stores the record whose lots
it changed, which the revision counts) or arrays (price updates, a new pricing time,
a new epoch) can never be read stale; nothing relies on being told, and the check
costs O(1), not a read of every record. A trade updates its
entry in place, ``L' = L - dq * v_i`` (O(scenarios)), which is exactly the
from-scratch sum because the arithmetic is on ints. The losses live in the
cache's loss table (``clearing/risk/losses.py``: native, contiguous, exact or
refusing, with the reference taking over on a refusal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from clearing.genesis import Genesis
from clearing.risk.arrays import RiskArrays
from clearing.risk.losses import LossTable, create_loss_table, get_reference_table
from clearing.risk.margin import compute_initial_margin, compute_scenario_losses
from clearing.state import Positions

AccountKey = tuple[bytes, int]


@dataclass(slots=True)
class AccountFigures:
    """Where one sub-account's losses are kept (``slot`` of the loss table) and its IM,
    current while its positions are ``positions`` at ``revision``."""

    positions: Positions
    revision: int
    slot: int
    initial_margin: int

    def is_current(self, positions: Positions) -> bool:
        return self.positions is positions and self.revision == positions.revision


@dataclass(slots=True)
class RiskCache:
    """Figures of the sub-accounts read since the arrays' inputs last changed."""

    genesis: Genesis
    epoch: int
    time_ms: int | None  # options' pricing time; None: no option, the arrays do not depend on it
    marks: dict[str, int]  # a copy of the marks the arrays were built from
    arrays: RiskArrays
    accounts: dict[AccountKey, AccountFigures] = field(default_factory=dict)
    table: LossTable = field(init=False)

    def __post_init__(self) -> None:
        self.table = create_loss_table(self.arrays.scenario_count, self.arrays.values)

    def is_current(
        self, genesis: Genesis, epoch: int, time_ms: int | None, marks: dict[str, int]
    ) -> bool:
        return (
            self.genesis is genesis
            and self.epoch == epoch
            and self.time_ms == time_ms
            and self.marks == marks
        )


class TradeFigures(NamedTuple):  # a NamedTuple: built on the hot path, cheaper than a dataclass
    """One side's figures as a checked trade would leave them (kept once it is written)."""

    cache: RiskCache
    before: AccountFigures | None  # None: the sub-account is new (nothing kept)
    revision: int  # of the positions the check read
    row: int  # the traded instrument's row of the risk arrays
    delta: int  # the lots the trade adds in it
    initial_margin: int


def get_lots(positions: Positions) -> dict[str, int]:
    """The non-zero lots of a positions mapping: what margin is a function of."""
    return {iid: p.quantity for iid, p in positions.items() if p.quantity}


def get_account_figures(
    cache: RiskCache, key: AccountKey, positions: Positions, keep: bool = True
) -> AccountFigures:
    """The kept entry if it is current for ``positions``, else one computed from scratch
    (kept, in the entry's slot or a new one, unless ``keep`` is false: a whole-book scan
    need not hold every account's vector)."""
    entry = cache.accounts.get(key)
    if entry is not None and entry.is_current(positions):
        return entry
    losses = compute_scenario_losses(get_lots(positions), cache.arrays)
    initial_margin = compute_initial_margin(losses)
    if not keep:
        return AccountFigures(positions, positions.revision, -1, initial_margin)
    if entry is None:
        slot = _store(cache, None, losses)
        entry = cache.accounts[key] = AccountFigures(positions, positions.revision, slot, 0)
    else:
        _store(cache, entry.slot, losses)
        entry.positions, entry.revision = positions, positions.revision
    entry.initial_margin = initial_margin
    return entry


def compute_trade_figures(
    cache: RiskCache, before: AccountFigures | None, instrument_id: str, delta: int
) -> TradeFigures:
    """``before`` (kept and current; None for a new sub-account) with ``delta`` more lots
    of ``instrument_id``."""
    row = cache.arrays.index[instrument_id]
    if before is None:
        losses = compute_scenario_losses({instrument_id: delta}, cache.arrays)
        return TradeFigures(cache, None, 0, row, delta, compute_initial_margin(losses))
    if delta == 0:
        initial_margin = before.initial_margin
    else:
        try:
            initial_margin = cache.table.get_initial_margin_after(before.slot, row, delta)
        except OverflowError:
            initial_margin = _use_reference(cache).get_initial_margin_after(before.slot, row, delta)
    return TradeFigures(cache, before, before.revision, row, delta, initial_margin)


def keep_trade_figures(current: RiskCache | None, figures: TradeFigures) -> None:
    """Record a side just written (one position stored) in its entry, if ``current``
    (the state's kept ``RISK_CACHE``) is still the cache the figures came from and nothing else
    changed the positions since the check."""
    cache, entry = figures.cache, figures.before
    if entry is None or current is not cache or entry.revision != figures.revision:
        return
    if entry.positions.revision != figures.revision + 1:
        return  # not the one write the figures describe: the entry stays behind, recomputed
    if figures.delta:
        try:
            cache.table.apply(entry.slot, figures.row, figures.delta)
        except OverflowError:
            _use_reference(cache).apply(entry.slot, figures.row, figures.delta)
    entry.revision = entry.positions.revision
    entry.initial_margin = figures.initial_margin


def _store(cache: RiskCache, slot: int | None, losses: tuple[int, ...]) -> int:
    try:
        return _put(cache.table, slot, losses)
    except OverflowError:
        return _put(_use_reference(cache), slot, losses)


def _put(table: LossTable, slot: int | None, losses: tuple[int, ...]) -> int:
    if slot is None:
        return table.add(losses)
    table.set(slot, losses)
    return slot


def _use_reference(cache: RiskCache) -> LossTable:
    """The native table refused a number beyond 64 bits: the reference holds the same
    slots from now on (exact for any size)."""
    cache.table = get_reference_table(cache.table, cache.arrays.values)
    return cache.table
