/**
 * The public linear form of "equity >= MM" and its statement: a port of
 * `clearing.risk.engine.compute_market_solvency_form` (with
 * `clearing/risk/solvency.py` `get_solvency_form`) and of
 * `proofs.statement.get_statement` and its `SolvencyStatement` checks.
 *
 * Inputs: cash, the quanta of every collateral token (genesis order), the lots
 * of every instrument (sorted ids). Row s is
 * (k_den, k_den*w_1, ..., k_den*w_K, k_num*v[1][s], ..., k_num*v[N][s]).
 */

import { computeRiskArrays } from "./arrays.js";
import { MarketMismatch, StatementError } from "./errors.js";
import { collateralKey, type FormGenesis } from "./genesis.js";
import { parseRiskParams } from "./params.js";
import { reprTuple, sortedStrings } from "./pyrepr.js";
import { BPS, divFloor } from "./rational.js";
import { computeScenarioSet } from "./scenarios.js";

export type PriceList = readonly (readonly [string, bigint])[];

/** What the rows are computed from, besides the genesis (a report carries it; the state
 * root commits to it, and to neither the height nor the block time). */
export interface SolvencyMarket {
  /** The time options are priced at; 0 without options. */
  readonly pricingTimeMs: bigint;
  readonly markPrices: PriceList; // instrument id -> price, sorted by id
  readonly indexPrices: PriceList; // feed id -> price, sorted by id
}

export interface Statement {
  readonly inputLabels: readonly string[];
  readonly offsets: readonly bigint[];
  readonly rows: readonly (readonly bigint[])[];
}

export interface SolvencyForm {
  readonly inputLabels: readonly string[];
  readonly rows: readonly (readonly bigint[])[];
  readonly scenarioLabels: readonly string[]; // one per row
}

const SIGNED_OFFSET = 1n << 63n;
const N_BITS = 64n;
const MAX_SCENARIO_BITS = 200n;

/** The rows of `genesis` at `market`; null when the genesis's risk section is empty
 * (margining off). `MarketMismatch` unless the market prices exactly the genesis's
 * instruments and feeds; `GenesisError` for a bad risk section. */
export function computeMarketSolvencyForm(genesis: FormGenesis, market: SolvencyMarket): SolvencyForm | null {
  checkMarketIds("mark_prices", market.markPrices, genesis.instruments.map((i) => i.id));
  const feeds = [...genesis.collateral.map((t) => t.priceFeed), ...genesis.instruments.map((i) => i.indexFeed)];
  checkMarketIds("index_prices", market.indexPrices, feeds);
  if (Object.keys(genesis.risk).length === 0) return null;
  const params = parseRiskParams(genesis.risk);
  const scenarios = computeScenarioSet(params);
  const arrays = computeRiskArrays(scenarios, genesis.instruments, new Map(market.markPrices), params, market.pricingTimeMs);
  const indexPrices = new Map(market.indexPrices);
  const weights = genesis.collateral.map((t) =>
    genesis.settlementTokens.has(collateralKey(t.chainId, t.token))
      ? 1n
      : divFloor((indexPrices.get(t.priceFeed) as bigint) * (BPS - t.haircutBps), BPS),
  );
  const inputLabels = [
    "cash",
    ...genesis.collateral.map((t) => `collateral:${t.chainId}:0x${t.token}`),
    ...arrays.instrumentIds.map((iid) => `position:${iid}`),
  ];
  const head = [params.kDen, ...weights.map((w) => params.kDen * w)];
  const rows = arrays.scenarioLabels.map((_, s) => [
    ...head,
    ...arrays.values.map((row) => params.kNum * (row[s] as bigint)),
  ]);
  return { inputLabels, rows, scenarioLabels: arrays.scenarioLabels };
}

function checkMarketIds(kind: string, prices: PriceList, expected: readonly string[]): void {
  const ids = new Set(prices.map(([id]) => id));
  const wanted = new Set(expected);
  const missing = sortedStrings([...wanted].filter((id) => !ids.has(id)));
  const extra = sortedStrings([...ids].filter((id) => !wanted.has(id)));
  if (missing.length > 0 || extra.length > 0) throw new MarketMismatch(kind, missing, extra);
}

/** The statement of a form, with the default offsets (collateral quanta are
 * non-negative; cash and positions are signed). */
export function getStatement(form: SolvencyForm): Statement {
  const offsets = form.inputLabels.map((label) => (label.startsWith("collateral:") ? 0n : SIGNED_OFFSET));
  const statement = { inputLabels: form.inputLabels, offsets, rows: form.rows };
  checkStatement(statement);
  return statement;
}

function bitLength(n: bigint): bigint {
  return n === 0n ? 0n : BigInt((n < 0n ? -n : n).toString(2).length);
}

/** `SolvencyStatement.__post_init__`: StatementError as the Python words it. */
export function checkStatement(s: Statement): void {
  const count = s.inputLabels.length;
  if (count === 0 || new Set(s.inputLabels).size !== count) {
    throw new StatementError(`labels must be non-empty and unique: ${reprTuple(s.inputLabels)}`);
  }
  if (s.offsets.length !== count) throw new StatementError(`${s.offsets.length} offsets for ${count} inputs`);
  if (!s.offsets.every((o) => o >= 0n && o < 1n << N_BITS)) {
    throw new StatementError(`offsets must lie in [0, 2^64): (${s.offsets.join(", ")}${count === 1 ? "," : ""})`);
  }
  s.rows.forEach((row, n) => {
    if (row.length !== count) throw new StatementError(`row ${n} has ${row.length} entries for ${count} inputs`);
    const worst = row.reduce((m, c) => (c < 0n ? -c : c) > m ? (c < 0n ? -c : c) : m, 0n);
    if (bitLength(worst) + bitLength(BigInt(count)) + N_BITS > MAX_SCENARIO_BITS) {
      throw new StatementError(`row ${n} coefficient ${worst} could wrap mod the group order`);
    }
  });
}
