/**
 * Risk arrays: gain per long lot of every instrument under every scenario, a
 * port of `clearing/risk/arrays.py` `compute_risk_arrays`. Futures and
 * perpetuals move with their underlying, exactly in rationals; options are
 * revalued with Black-76 on their future's moved mark and shifted volatility.
 * Options are priced at the block time floored to the genesis's pricing interval.
 * Each array is then floored (its worst loss each way at least `floor` per lot).
 */

import { computeOptionValue, Dec, fromBigInt, toIntegralHalfEven } from "./black76.js";
import { GenesisError, OptionValueUndefined } from "./errors.js";
import type { Instrument } from "./genesis.js";
import type { RiskParams } from "./params.js";
import { compareCodePoints } from "./pyrepr.js";
import { BPS, divCeil, roundHalfEven } from "./rational.js";
import type { Move, ScenarioSet } from "./scenarios.js";

export interface RiskArrays {
  readonly instrumentIds: readonly string[]; // sorted
  readonly scenarioLabels: readonly string[];
  readonly values: readonly (readonly bigint[])[]; // values[i][s]
}

/** The underlying whose scenario moves drive `instrument` (an option: its future's). */
function getRiskFactor(instrument: Instrument, byId: ReadonlyMap<string, Instrument>): string {
  if (instrument.kind === "option") return byId.get(instrument.underlying)?.underlying ?? "";
  return instrument.underlying;
}

/** The time options are priced at: `timeMs` floored to the pricing interval
 * (`get_pricing_time_ms`). */
export function getPricingTimeMs(params: RiskParams, timeMs: bigint): bigint {
  return timeMs - (timeMs % params.pricingIntervalMs);
}

export function computeRiskArrays(
  scenarios: ScenarioSet,
  instruments: readonly Instrument[],
  marks: ReadonlyMap<string, bigint>,
  params: RiskParams,
  timeMs: bigint,
): RiskArrays {
  const pricedMs = getPricingTimeMs(params, timeMs);
  const byId = new Map(instruments.map((i) => [i.id, i]));
  const ids = [...byId.keys()].sort(compareCodePoints);
  const rows = ids.map((iid) => {
    const inst = byId.get(iid) as Instrument;
    const factor = getRiskFactor(inst, byId);
    const u = scenarios.underlyings.indexOf(factor);
    const underlying = params.underlyings.find((p) => p.name === factor);
    if (u < 0 || underlying === undefined) throw new GenesisError(`risk.underlyings.${factor}`, "present", "missing");
    const pnl = new PnL(inst, underlying.volBps, marks, params.rateBps, pricedMs);
    const row = scenarios.scenarios.map((s) => pnl.compute(s.moves[u] as Move, s.label));
    const reference = mark(marks, inst.kind === "option" ? inst.underlying : iid);
    return computeFlooredRow(row, divCeil(reference * underlying.floorBps, BPS));
  });
  return { instrumentIds: ids, scenarioLabels: scenarios.scenarios.map((s) => s.label), values: rows };
}

function mark(marks: ReadonlyMap<string, bigint>, id: string): bigint {
  const price = marks.get(id);
  if (price === undefined) throw new RangeError(`no mark for ${id}`); // the market check comes first
  return price;
}

/** Deepen the worst loss each way (among non-base scenarios) to at least `floor`. */
export function computeFlooredRow(row: readonly bigint[], floor: bigint): bigint[] {
  const out = [...row];
  if (floor <= 0n || out.length < 3) return out;
  let down = 1;
  let up = 1;
  for (let s = 2; s < out.length; s++) {
    if ((out[s] as bigint) < (out[down] as bigint)) down = s; // the first lowest
    if ((out[s] as bigint) > (out[up] as bigint)) up = s; // the first highest
  }
  if (up === down) up = down === 1 ? 2 : 1;
  if ((out[down] as bigint) > -floor) out[down] = -floor;
  if ((out[up] as bigint) < floor) out[up] = floor;
  return out;
}

/** Gain per long lot of one instrument under a move, cover applied, rounded half-even. */
class PnL {
  private base: Dec | null | undefined; // an option's unshocked value, the same in every scenario

  constructor(
    private readonly inst: Instrument,
    private readonly volBps: bigint,
    private readonly marks: ReadonlyMap<string, bigint>,
    private readonly rateBps: bigint,
    private readonly timeMs: bigint,
  ) {}

  compute(move: Move, scenario: string): bigint {
    const { inst } = this;
    if (inst.kind !== "option") {
      const price = mark(this.marks, inst.id);
      return roundHalfEven(price * move.price.num * move.coverBps, move.price.den * BPS);
    }
    const strike = inst.strike as bigint;
    const isCall = inst.isCall as boolean;
    const forward = mark(this.marks, inst.underlying);
    const moved = roundHalfEven(forward * (move.price.den + move.price.num), move.price.den);
    const remaining = (inst.expiryMs as bigint) - this.timeMs;
    if (this.base === undefined) {
      this.base = computeOptionValue(forward, strike, this.volBps, remaining, this.rateBps, isCall);
    }
    let vol = this.volBps + move.volShiftBps;
    if (vol < 1n) vol = 1n;
    const shocked = computeOptionValue(moved, strike, vol, remaining, this.rateBps, isCall);
    if (this.base === null) throw new OptionValueUndefined(inst.id, scenario, forward);
    if (shocked === null) throw new OptionValueUndefined(inst.id, scenario, moved);
    const pnl = shocked.minus(this.base).times(fromBigInt(move.coverBps)).div(fromBigInt(BPS));
    return toIntegralHalfEven(pnl);
  }
}
