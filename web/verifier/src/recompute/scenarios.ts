/**
 * The margin scenario set: a port of `clearing/risk/scenarios.py`
 * (`compute_scenario_set`): per correlation group the base and SPAN's grid,
 * the joint set the product of the group grids (the first group varies
 * slowest), then the historical stress days. Labels are the Python's.
 */

import { GenesisError } from "./errors.js";
import type { RiskParams, UnderlyingParams } from "./params.js";
import { BPS, type Fraction, formatFraction, fraction, times } from "./rational.js";
import { sortedStrings } from "./pyrepr.js";

const FULL_COVER = BPS;

export interface Move {
  readonly price: Fraction; // new price = old price * (1 + price)
  readonly volShiftBps: bigint;
  readonly coverBps: bigint;
}

export interface Scenario {
  readonly label: string;
  readonly moves: readonly Move[]; // one per ScenarioSet.underlyings entry
}

export interface ScenarioSet {
  readonly underlyings: readonly string[]; // sorted names
  readonly scenarios: readonly Scenario[]; // scenarios[0] is the base
}

interface GridPoint {
  readonly label: string;
  readonly scanMultiple: Fraction;
  readonly volDirection: bigint;
  readonly coverBps: bigint;
}

const BASE: GridPoint = { label: "base", scanMultiple: fraction(0n), volDirection: 0n, coverBps: FULL_COVER };

function computeSpanGrid(steps: bigint, extremeMultiple: bigint, extremeCoverBps: bigint): GridPoint[] {
  const grid = [BASE];
  for (let j = 0n; j <= steps; j++) {
    for (const sign of j ? [1n, -1n] : [1n]) {
      for (const vol of [1n, -1n]) {
        const frac = fraction(sign * j, steps);
        const label = `${formatFraction(frac)}/vol${vol > 0n ? "+" : "-"}`;
        grid.push({ label, scanMultiple: frac, volDirection: vol, coverBps: FULL_COVER });
      }
    }
  }
  for (const sign of [1n, -1n]) {
    const m = sign * extremeMultiple;
    const label = `extreme${m >= 0n ? "+" : ""}${m}`;
    grid.push({ label, scanMultiple: fraction(m), volDirection: 0n, coverBps: extremeCoverBps });
  }
  return grid;
}

function move(u: UnderlyingParams, point: GridPoint): Move {
  return {
    price: times(point.scanMultiple, fraction(u.scanBps, BPS)),
    volShiftBps: point.volDirection * u.volScanBps,
    coverBps: point.coverBps,
  };
}

export function computeScenarioSet(params: RiskParams): ScenarioSet {
  const grid = computeSpanGrid(params.priceSteps, params.extremeMultiple, params.extremeCoverBps);
  const groups = sortedStrings(new Set(params.underlyings.map((u) => u.group)));
  // Checked before the product is built: the Python builds it, then refuses it.
  const count = BigInt(grid.length) ** BigInt(groups.length) + BigInt(params.stressDays.length);
  if (count > params.maxScenarios) {
    throw new GenesisError("risk.max_scenarios", `at least the ${count} scenarios the grid makes`, params.maxScenarios);
  }
  const scenarios: Scenario[] = [];
  const combo = groups.map(() => 0);
  for (let n = 0; n < grid.length ** groups.length; n++) {
    let rest = n;
    for (let g = groups.length - 1; g >= 0; g--) {
      combo[g] = rest % grid.length;
      rest = Math.floor(rest / grid.length);
    }
    const byGroup = new Map(groups.map((g, k) => [g, grid[combo[k] ?? 0] ?? BASE]));
    const label = groups.map((g) => `${g}:${byGroup.get(g)?.label}`).join("+");
    scenarios.push({ label, moves: params.underlyings.map((u) => move(u, byGroup.get(u.group) ?? BASE)) });
  }
  for (const day of params.stressDays) {
    const moves = params.underlyings.map((u) => ({
      price: fraction(day.movesBps.get(u.name) ?? 0n, BPS),
      volShiftBps: 0n,
      coverBps: FULL_COVER,
    }));
    scenarios.push({ label: `day:${day.label}`, moves });
  }
  return { underlyings: params.underlyings.map((u) => u.name), scenarios };
}
