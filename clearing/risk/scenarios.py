"""The joint scenario set: SPAN-style grids per correlation group, and stress sets.

Per group the grid is the base (no move) followed by SPAN's 16 scenarios: price
moves of j/steps of the scan range up and down with volatility up and down,
then the extreme moves (``extreme_multiple`` ranges, volatility unchanged)
counted at ``extreme_cover_bps``. Every underlying of a group moves by the same
fraction of its own scan range, so positions across the group offset. Groups
are independent: the joint set is the product of the group grids, so a loss in
one group is never netted against a gain in another (max over the product is
the sum of the per-group maxima). ``scenarios[0]`` is always the base, which
makes ``max_s L_s >= 0``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

from clearing.errors import GenesisError
from clearing.risk.params import RiskParams, UnderlyingParams
from clearing.units import BPS_DENOMINATOR

FULL_COVER = BPS_DENOMINATOR


@dataclass(frozen=True, slots=True)
class Move:
    """One underlying's part of a scenario: relative price move, vol shift, cover."""

    price: Fraction  # new price = old price * (1 + price)
    vol_shift_bps: int  # absolute shift of the implied vol
    cover_bps: int  # the fraction of the P&L counted


@dataclass(frozen=True, slots=True)
class Scenario:
    label: str
    moves: tuple[Move, ...]  # one per ScenarioSet.underlyings entry


@dataclass(frozen=True, slots=True)
class ScenarioSet:
    underlyings: tuple[str, ...]  # sorted names
    scenarios: tuple[Scenario, ...]  # scenarios[0] is the base


@dataclass(frozen=True, slots=True)
class GridPoint:
    """A group-level scenario: multiple of the scan range, vol direction, cover."""

    label: str
    scan_multiple: Fraction
    vol_direction: int
    cover_bps: int


BASE = GridPoint("base", Fraction(0), 0, FULL_COVER)


def compute_span_grid(steps: int, extreme_multiple: int, extreme_cover_bps: int) -> list[GridPoint]:
    """Base, then SPAN's order: for j = 0..steps, up then down, vol up then down; extremes."""
    grid = [BASE]
    for j in range(steps + 1):
        for sign in (1, -1) if j else (1,):
            for vol in (1, -1):
                frac = Fraction(sign * j, steps)
                label = f"{frac}/vol{'+' if vol > 0 else '-'}"
                grid.append(GridPoint(label, frac, vol, FULL_COVER))
    for sign in (1, -1):
        frac = Fraction(sign * extreme_multiple)
        grid.append(GridPoint(f"extreme{sign * extreme_multiple:+d}", frac, 0, extreme_cover_bps))
    return grid


def compute_stress_grid(multiple: int) -> list[GridPoint]:
    """Base and full-cover moves of ``multiple`` scan ranges each way (default fund sizing)."""
    return [BASE] + [GridPoint(f"stress{s * multiple:+}", Fraction(s * multiple), 0, FULL_COVER)
                     for s in (1, -1)]  # fmt: skip


def _move(u: UnderlyingParams, point: GridPoint) -> Move:
    return Move(
        price=point.scan_multiple * Fraction(u.scan_bps, BPS_DENOMINATOR),
        vol_shift_bps=point.vol_direction * u.vol_scan_bps,
        cover_bps=point.cover_bps,
    )


def _joint(params: RiskParams, grid: list[GridPoint]) -> list[Scenario]:
    groups = sorted({u.group for u in params.underlyings})
    out = []
    for combo in itertools.product(grid, repeat=len(groups)):
        by_group = dict(zip(groups, combo, strict=True))
        label = "+".join(f"{g}:{p.label}" for g, p in by_group.items())
        moves = tuple(_move(u, by_group[u.group]) for u in params.underlyings)
        out.append(Scenario(label, moves))
    return out


def _stress_days(params: RiskParams) -> list[Scenario]:
    out = []
    for day in params.stress_days:
        moves_bps = dict(day.moves_bps)
        moves = tuple(
            Move(Fraction(moves_bps.get(u.name, 0), BPS_DENOMINATOR), 0, FULL_COVER)
            for u in params.underlyings
        )
        out.append(Scenario(f"day:{day.label}", moves))
    return out


def compute_scenario_set(params: RiskParams) -> ScenarioSet:
    """Margin scenarios: joint SPAN grid over groups, then the historical stress days."""
    grid = compute_span_grid(params.price_steps, params.extreme_multiple, params.extreme_cover_bps)
    return _checked(params, _joint(params, grid) + _stress_days(params))


def compute_stress_scenario_set(params: RiskParams) -> ScenarioSet:
    """Default-fund stress scenarios: full-cover multiples of the range, and the stress days."""
    grid = compute_stress_grid(params.default_fund.stress_multiple)
    return _checked(params, _joint(params, grid) + _stress_days(params))


def _checked(params: RiskParams, scenarios: list[Scenario]) -> ScenarioSet:
    if len(scenarios) > params.max_scenarios:
        raise GenesisError(
            "risk.max_scenarios", f"at least the {len(scenarios)} scenarios the grid makes",
            params.max_scenarios,
        )  # fmt: skip
    return ScenarioSet(tuple(u.name for u in params.underlyings), tuple(scenarios))
