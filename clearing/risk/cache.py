"""Kept margin figures of sub-accounts, so a trade's margin check is incremental.

A sub-account's scenario losses ``L`` and ``IM = max L`` are a pure function of
(the risk arrays, its lots). ``state.risk_cache`` (derived: neither in the
state root nor in a snapshot) keeps them together with exactly those inputs:

- the cache records what its arrays were built from (genesis, epoch, block
  time when options make the arrays depend on it, every mark); a read at any
  other inputs starts a fresh cache with the current arrays;
- each entry records the lots it was computed from; a read whose sub-account
  holds other lots recomputes the entry from scratch.

So any path that changes positions (trades, liquidation, ADL, expiry, exercise,
a restored snapshot, a test writing a position) or arrays (price updates, a
new block time, a new epoch) can never be read stale; nothing relies on being
told. A trade updates its entry in place, ``L' = L - dq * v_i`` (O(scenarios)),
which is exactly the from-scratch sum because the arithmetic is on ints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from clearing.genesis import Genesis
from clearing.risk.arrays import RiskArrays
from clearing.risk.margin import (
    Losses,
    compute_initial_margin,
    compute_scenario_losses,
    compute_trade_losses,
)

AccountKey = tuple[bytes, int]


@dataclass(slots=True)
class AccountFigures:
    """Losses and IM of one sub-account holding ``quantities`` (non-zero lots)."""

    quantities: dict[str, int]
    losses: Losses
    initial_margin: int


@dataclass(slots=True)
class RiskCache:
    """Figures of the sub-accounts read since the arrays' inputs last changed."""

    genesis: Genesis
    epoch: int
    time_ms: int | None  # None: no option is listed, the arrays do not depend on time
    marks: dict[str, int]  # a copy of the marks the arrays were built from
    arrays: RiskArrays
    accounts: dict[AccountKey, AccountFigures] = field(default_factory=dict)

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
    key: AccountKey
    before: AccountFigures
    instrument_id: str
    quantity: int  # the side's lots in ``instrument_id`` after the trade
    losses: Losses
    initial_margin: int


def compute_account_figures(quantities: dict[str, int], arrays: RiskArrays) -> AccountFigures:
    """The from-scratch figures (the reference every kept entry equals)."""
    losses = compute_scenario_losses(quantities, arrays)
    return AccountFigures(quantities, losses, compute_initial_margin(losses))


def get_account_figures(
    cache: RiskCache, key: AccountKey, quantities: dict[str, int], keep: bool = True
) -> AccountFigures:
    """The kept entry if it was computed from ``quantities``, else a fresh one (kept
    unless ``keep`` is false: a whole-book scan need not hold every account's vector)."""
    entry = cache.accounts.get(key)
    if entry is None or entry.quantities != quantities:
        entry = compute_account_figures(quantities, cache.arrays)
        if keep:
            cache.accounts[key] = entry
    return entry


def compute_trade_figures(
    cache: RiskCache, key: AccountKey, before: AccountFigures, instrument_id: str, quantity: int
) -> TradeFigures:
    """``before`` with its lots in ``instrument_id`` set to ``quantity``: ``L - dq * v``."""
    delta = quantity - before.quantities.get(instrument_id, 0)
    if delta == 0:
        losses = before.losses
    else:
        losses = compute_trade_losses(before.losses, cache.arrays.row(instrument_id), delta)
    return TradeFigures(
        cache, key, before, instrument_id, quantity, losses, compute_initial_margin(losses)
    )


def keep_trade_figures(current: object, figures: TradeFigures) -> None:
    """Record a written trade side in its entry, if ``current`` (``state.risk_cache``)
    is still the cache the figures came from and the entry has not been replaced."""
    cache = figures.cache
    entry = figures.before
    if current is not cache or cache.accounts.get(figures.key) is not entry:
        return
    if figures.quantity:
        entry.quantities[figures.instrument_id] = figures.quantity
    else:
        entry.quantities.pop(figures.instrument_id, None)
    entry.losses = figures.losses
    entry.initial_margin = figures.initial_margin
