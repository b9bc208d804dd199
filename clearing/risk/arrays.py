"""Risk arrays: P&L per lot of every instrument under every scenario, per epoch.

``values[i][s]`` is the gain (settlement units, per lot, long) of instrument
``instrument_ids[i]`` in scenario ``s``, rounded half-even. Futures and
perpetuals move with their underlying; options are revalued with Black-76 on
their future's moved mark and shifted volatility. A scenario's P&L is scaled by
its cover fraction.

Options are priced at ``get_pricing_time_ms``: the block time floored to the genesis's
``risk.pricing_interval_ms``, so the arrays move when a mark moves or the interval
turns, not at every block.

Per-instrument floor (kept linear so the solvency form stays exact): each
array holds a loss of at least ``floor = ceil(price * floor_bps / 10_000)`` per
lot in each direction, i.e. ``min_s v <= -floor`` and ``max_s v >= floor``,
so any single position needs at least ``floor * |q|`` of margin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction

from clearing.errors import GenesisError
from clearing.instruments import Instrument, InstrumentKind, OptionType
from clearing.risk.black76 import CONTEXT, compute_option_value
from clearing.risk.params import RiskParams
from clearing.risk.scenarios import Move, ScenarioSet
from clearing.units import BPS_DENOMINATOR, apply_bps_ceil


@dataclass(frozen=True, slots=True)
class RiskArrays:
    epoch: int
    instrument_ids: tuple[str, ...]  # sorted
    scenario_labels: tuple[str, ...]
    values: tuple[tuple[int, ...], ...]  # values[i][s]
    index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {iid: n for n, iid in enumerate(self.instrument_ids)})

    def row(self, instrument_id: str) -> tuple[int, ...]:
        return self.values[self.index[instrument_id]]

    @property
    def scenario_count(self) -> int:
        return len(self.scenario_labels)


def get_risk_factor(instrument: Instrument, by_id: Mapping[str, Instrument]) -> str:
    """The underlying whose scenario moves drive ``instrument`` (an option: its future's)."""
    if instrument.kind is InstrumentKind.OPTION:
        return by_id[instrument.underlying].underlying
    return instrument.underlying


def get_pricing_time_ms(params: RiskParams, time_ms: int) -> int:
    """The time options are priced at: ``time_ms`` floored to the pricing interval."""
    return time_ms - time_ms % params.pricing_interval_ms


def compute_risk_arrays(
    epoch: int,
    scenarios: ScenarioSet,
    instruments: Sequence[Instrument],
    marks: Mapping[str, int],
    params: RiskParams,
    time_ms: int,
) -> RiskArrays:
    """Arrays for every instrument (sorted by id) from the marks, options priced at the
    block time `time_ms` floored to the pricing interval."""
    priced_ms = get_pricing_time_ms(params, time_ms)
    by_id = {i.id: i for i in instruments}
    ids = tuple(sorted(by_id))
    rows = []
    for iid in ids:
        inst = by_id[iid]
        factor = get_risk_factor(inst, by_id)
        underlying = params.underlying(factor)
        if factor not in scenarios.underlyings or underlying is None:
            raise GenesisError(f"risk.underlyings.{factor}", "present", "missing")
        u = scenarios.underlyings.index(factor)
        row = [
            _compute_pnl(inst, s.moves[u], underlying.vol_bps, marks, params.rate_bps, priced_ms)
            for s in scenarios.scenarios
        ]
        reference = marks[inst.underlying] if inst.kind is InstrumentKind.OPTION else marks[iid]
        rows.append(compute_floored_row(row, apply_bps_ceil(reference, underlying.floor_bps)))
    labels = tuple(s.label for s in scenarios.scenarios)
    return RiskArrays(epoch, ids, labels, tuple(rows))


def compute_floored_row(row: Sequence[int], floor: int) -> tuple[int, ...]:
    """Deepen the worst loss each way (among non-base scenarios) to at least ``floor``."""
    out = list(row)
    if floor <= 0 or len(out) < 3:
        return tuple(out)
    rest = range(1, len(out))
    down = min(rest, key=lambda s: (out[s], s))
    up = max(rest, key=lambda s: (out[s], -s))
    if up == down:
        up = 2 if down == 1 else 1
    out[down] = min(out[down], -floor)
    out[up] = max(out[up], floor)
    return tuple(out)


def _compute_pnl(
    inst: Instrument, move: Move, vol: int, marks: Mapping[str, int], rate_bps: int, time_ms: int
) -> int:
    """Gain per long lot under ``move``, cover applied, rounded half-even."""
    cover = Fraction(move.cover_bps, BPS_DENOMINATOR)
    if inst.kind is not InstrumentKind.OPTION:
        return round(marks[inst.id] * move.price * cover)
    if inst.strike is None or inst.expiry_ms is None:
        raise GenesisError(f"instruments.{inst.id}", "an option's strike and expiry", None)
    forward = marks[inst.underlying]
    moved = round(forward * (1 + move.price))
    remaining = inst.expiry_ms - time_ms
    is_call = inst.option_type is OptionType.CALL
    base = compute_option_value(forward, inst.strike, vol, remaining, rate_bps, is_call)
    shocked = compute_option_value(
        moved, inst.strike, max(vol + move.vol_shift_bps, 1), remaining, rate_bps, is_call
    )
    with localcontext(CONTEXT):
        pnl = (shocked - base) * Decimal(move.cover_bps) / Decimal(BPS_DENOMINATOR)
        return int(pnl.to_integral_value())
