/**
 * Test driver of the recomputation (tests/web/verifier/test_recompute.py):
 * reads `{"cases": [...]}` from stdin, parsed exactly (integers as bigint),
 * answers `{"results": [...]}` on stdout, integers as decimal strings.
 *
 *   compare:   genesis (or genesis_json), market, chain_id, epoch, height, statement -> lines, names
 *   recompute: genesis, market -> statement and scenario labels, or the error; ms
 *   black76:   forward, strike, vol_bps, remaining_ms, rate_bps, is_call -> value
 */

import { computeOptionValue } from "../src/recompute/black76.js";
import { compareStatement, getScenarioNames, parseJson, recomputeStatement } from "../src/recompute/index.js";
import type { SolvencyMarket, Statement } from "../src/recompute/index.js";

declare const process: {
  stdin: { setEncoding(e: string): void; on(event: string, f: (chunk?: string) => void): void };
  stdout: { write(text: string): void };
};
declare const performance: { now(): number };

type Case = Record<string, unknown>;

function toMarket(obj: unknown): SolvencyMarket {
  const m = obj as { pricing_time_ms: bigint; mark_prices: [string, bigint][]; index_prices: [string, bigint][] };
  return { pricingTimeMs: m.pricing_time_ms, markPrices: m.mark_prices, indexPrices: m.index_prices };
}

function toStatement(obj: unknown): Statement {
  const s = obj as { labels: string[]; offsets: bigint[]; rows: bigint[][] };
  return { inputLabels: s.labels, offsets: s.offsets, rows: s.rows };
}

/** The case's genesis: as parsed with the rest, or (`genesis_json`) by `JSON.parse`, as a
 * caller without `parseJson` would pass it. */
function genesisOf(c: Case): unknown {
  return typeof c.genesis_json === "string" ? (JSON.parse(c.genesis_json) as unknown) : c.genesis;
}

function run(c: Case): unknown {
  if (c.kind === "compare") {
    const market = toMarket(c.market);
    const chainId = c.chain_id as bigint;
    return {
      lines: compareStatement(toStatement(c.statement), market, chainId, c.epoch as bigint, c.height as bigint, genesisOf(c)),
      names: getScenarioNames(market, chainId, genesisOf(c)),
    };
  }
  if (c.kind === "recompute") {
    const start = performance.now();
    try {
      const got = recomputeStatement(genesisOf(c), toMarket(c.market));
      const ms = performance.now() - start;
      if (got === null) return { statement: null, ms };
      const { inputLabels, offsets, rows } = got.statement;
      return { statement: { labels: inputLabels, offsets, rows }, scenarios: got.scenarioLabels, ms };
    } catch (exc) {
      return { error: exc instanceof Error ? `${exc.name}: ${exc.message}` : String(exc) };
    }
  }
  if (c.kind === "black76") {
    const value = computeOptionValue(
      c.forward as bigint, c.strike as bigint, c.vol_bps as bigint, c.remaining_ms as bigint,
      c.rate_bps as bigint, c.is_call === true,
    );
    return { value: value === null ? null : value.toString() };
  }
  throw new Error(`unknown case kind ${String(c.kind)}`);
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  input += chunk ?? "";
});
process.stdin.on("end", () => {
  const { cases } = parseJson(input) as unknown as { cases: Case[] };
  const results = cases.map(run);
  process.stdout.write(JSON.stringify({ results }, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
});
