/**
 * The statement recomputed, not read: a port of `proofs/recompute.py`
 * (`compare_statement`, `describe_differences`, `get_scenario_names`). The
 * failure lines are worded exactly like the Python's, so the browser verifier
 * and `clearnode verify --genesis` say the same of the same report.
 */

import { GenesisError, MarketMismatch, OptionValueUndefined, StatementError } from "./errors.js";
import { type FormGenesis, readFormGenesis } from "./genesis.js";
import { reprList, reprStr } from "./pyrepr.js";
import {
  checkStatement,
  computeMarketSolvencyForm,
  getStatement,
  type SolvencyForm,
  type SolvencyMarket,
  type Statement,
} from "./solvency.js";

export const MAX_LISTED = 12; // differences named one by one; beyond, a count

export interface RecomputedStatement {
  readonly statement: Statement;
  readonly scenarioLabels: readonly string[]; // the genesis's name of each row
}

/** The statement `genesis` (a parsed JSON document) gives at `market`; null when the
 * genesis has no risk section. Throws `GenesisError`, `MarketMismatch`,
 * `OptionValueUndefined` or `StatementError`. */
export function recomputeStatement(genesis: unknown, market: SolvencyMarket): RecomputedStatement | null {
  const form = computeMarketSolvencyForm(readFormGenesis(genesis), market);
  return form === null ? null : { statement: getStatement(form), scenarioLabels: form.scenarioLabels };
}

/** Each way `statement` differs from the one recomputed from the genesis and `market`
 * (empty when equal), as `proofs.recompute.compare_statement` words it. */
export function compareStatement(
  statement: Statement, market: SolvencyMarket, chainId: bigint, epoch: bigint, height: bigint, genesis: unknown,
): string[] {
  let parsed: FormGenesis;
  try {
    parsed = readFormGenesis(genesis);
  } catch (exc) {
    if (exc instanceof GenesisError) return [`the genesis is not valid: ${exc}`];
    throw exc;
  }
  if (parsed.chainId !== chainId) {
    return [`the genesis is of chain ${parsed.chainId}, the report of chain ${chainId}: no statement to compare`];
  }
  const epochEnd = epoch * parsed.epochLengthBlocks;
  if (height !== epochEnd) {
    return [`the report is of height ${height}, not ${epochEnd}, the last block of epoch ${epoch}`];
  }
  let form: SolvencyForm | null;
  try {
    form = computeMarketSolvencyForm(parsed, market);
  } catch (exc) {
    if (exc instanceof MarketMismatch) {
      return [`market ${exc.kind} do not price the genesis's ids: missing ${reprList(exc.missing)}, ` +
        `not in the genesis ${reprList(exc.extra)}`];
    }
    if (exc instanceof GenesisError) return [`the genesis defines no statement: ${exc}`];
    if (exc instanceof OptionValueUndefined) return [`the genesis defines no statement: ${exc.message}`];
    throw exc;
  }
  if (form === null) return ["the genesis has no risk section: it defines no statement"];
  let expected: Statement;
  try {
    expected = getStatement(form);
  } catch (exc) {
    if (exc instanceof StatementError) return [`the recomputed statement is not provable: ${exc.message}`];
    throw exc;
  }
  try {
    checkStatement(statement);
  } catch (exc) {
    if (exc instanceof StatementError) return [`the report's statement is not well-formed: ${exc.message}`];
    throw exc;
  }
  return describeDifferences(statement, expected, form.scenarioLabels);
}

/** Labels, then offsets, then rows: what the report has against what it should. */
export function describeDifferences(found: Statement, expected: Statement, scenarios: readonly string[]): string[] {
  if (!sameList(found.inputLabels, expected.inputLabels)) {
    const missing = expected.inputLabels.filter((x) => !found.inputLabels.includes(x));
    const extra = found.inputLabels.filter((x) => !expected.inputLabels.includes(x));
    return [`statement labels differ: the report has ${reprList(found.inputLabels)}, the genesis gives ` +
      `${reprList(expected.inputLabels)} (missing ${reprList(missing)}, not in the genesis ${reprList(extra)})`];
  }
  const labels = expected.inputLabels;
  let lines: string[] = [];
  labels.forEach((label, j) => {
    const [f, e] = [found.offsets[j] as bigint, expected.offsets[j] as bigint];
    if (f !== e) lines.push(`offset of ${reprStr(label)}: the report has ${f}, recomputed ${e} (differs by ${f - e})`);
  });
  if (found.rows.length !== expected.rows.length) return [...lines, describeRowCount(found, expected, scenarios)];
  found.rows.forEach((row, s) => {
    const want = expected.rows[s] as readonly bigint[];
    labels.forEach((label, j) => {
      const [f, e] = [row[j] as bigint, want[j] as bigint];
      if (f !== e) {
        lines.push(`row ${s} (scenario ${scenarios[s]}), column ${reprStr(label)}: the report has ${f}, ` +
          `recomputed ${e} (differs by ${f - e})`);
      }
    });
  });
  if (lines.length > MAX_LISTED) {
    lines = [...lines.slice(0, MAX_LISTED), `... and ${lines.length - MAX_LISTED} more differences`];
  }
  return lines;
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, n) => x === b[n]);
}

function describeRowCount(found: Statement, expected: Statement, scenarios: readonly string[]): string {
  const have = new Map<string, number>();
  for (const row of found.rows) have.set(row.join(","), (have.get(row.join(",")) ?? 0) + 1);
  const missing: string[] = [];
  expected.rows.forEach((row, s) => {
    const left = have.get(row.join(",")) ?? 0;
    if (left > 0) have.set(row.join(","), left - 1);
    else missing.push(`${scenarios[s]} (row ${s})`);
  });
  const extra = [...have.values()].reduce((a, b) => a + b, 0);
  return `the report has ${found.rows.length} scenario rows, the genesis gives ${expected.rows.length}: ` +
    `missing ${missing.join(", ") || "none"}; ${extra} rows of the report are not the genesis's`;
}

/** The genesis's name of each scenario row (`day:2020-03-13`, `majors:1/3/vol+`), to
 * explain a member's values by; null when the genesis gives no statement there. */
export function getScenarioNames(
  market: SolvencyMarket, chainId: bigint, genesis: unknown,
): readonly string[] | null {
  try {
    const parsed = readFormGenesis(genesis);
    if (parsed.chainId !== chainId) return null;
    return computeMarketSolvencyForm(parsed, market)?.scenarioLabels ?? null;
  } catch (exc) {
    if (exc instanceof GenesisError || exc instanceof MarketMismatch || exc instanceof OptionValueUndefined) return null;
    throw exc;
  }
}
