/** The public solvency statement (proofs/statement.py): decoding with its shape checks,
 * its digest, the values an account's inputs give, and one account's proof added to a
 * batch. */

import { sha3_256 } from "@noble/hashes/sha3.js";
import { N_BITS, addRangeCheck, computePaddedCount, decodeProofPoints, decodeRangeProof } from "./bulletproofs";
import { concat, utf8 } from "./bytes";
import { DecodeError, ProverError } from "./errors";
import { StatementError } from "./recompute/errors.js";
import type { Statement } from "./recompute/solvency.js";
import type { Point } from "./group";
import { type Value, encodeMsgpack } from "./msgpack";
import type { MsmCheck } from "./msm";
import { reprIntTuple } from "./pyformat";
import { reprStr, reprTuple } from "./recompute/pyrepr.js";
import { Transcript } from "./transcript";

const STATEMENT_DOMAIN = utf8("clearnode-solvency-statement-v1");
export const CASH_LABEL = "cash";
export const COLLATERAL_PREFIX = "collateral:";
export const POSITION_PREFIX = "position:";
// |Σ_j A_{s,j}·x_j| < 2^MAX_SCENARIO_BITS ≪ R/2: a scenario value cannot wrap mod R.
const MAX_SCENARIO_BITS = 200;
const RANGE = 1n << BigInt(N_BITS);

export type { Statement };

const abs = (x: bigint): bigint => (x < 0n ? -x : x);
const bitLength = (x: bigint): number => (x === 0n ? 0 : x.toString(2).length);

/** The shape checks of SolvencyStatement.__post_init__. */
function checkShape(s: Statement): void {
  const count = s.inputLabels.length;
  if (count === 0 || new Set(s.inputLabels).size !== count) {
    throw new StatementError(`labels must be non-empty and unique: ${reprTuple(s.inputLabels)}`);
  }
  if (s.offsets.length !== count) throw new StatementError(`${s.offsets.length} offsets for ${count} inputs`);
  if (!s.offsets.every((o) => o >= 0n && o < RANGE)) {
    throw new StatementError(`offsets must lie in [0, 2^64): ${reprIntTuple(s.offsets)}`);
  }
  s.rows.forEach((row, i) => {
    if (row.length !== count) throw new StatementError(`row ${i} has ${row.length} entries for ${count} inputs`);
    const worst = row.reduce((m, c) => (abs(c) > m ? abs(c) : m), 0n);
    if (bitLength(worst) + bitLength(BigInt(count)) + N_BITS > MAX_SCENARIO_BITS) {
      throw new StatementError(`row ${i} coefficient ${worst} could wrap mod the group order`);
    }
  });
}

const isIntList = (v: Value): v is bigint[] => Array.isArray(v) && v.every((x) => typeof x === "bigint");

/** From the msgpack list [labels, offsets, rows]; DecodeError on any bad field. */
export function decodeStatement(obj: Value): Statement {
  if (!Array.isArray(obj) || obj.length !== 3) throw new DecodeError("statement must be a list [labels, offsets, rows]");
  const [labels, offsets, rows] = obj as [Value, Value, Value];
  if (!Array.isArray(labels) || !labels.every((x) => typeof x === "string")) {
    throw new DecodeError("statement labels must be a list of strings");
  }
  if (!isIntList(offsets)) throw new DecodeError("statement offsets must be a list of ints");
  if (!Array.isArray(rows) || !rows.every(isIntList)) {
    throw new DecodeError("statement rows must be a list of lists of ints");
  }
  const statement = { inputLabels: labels as string[], offsets, rows: rows as bigint[][] };
  try {
    checkShape(statement);
  } catch (exc) {
    if (exc instanceof StatementError) throw new DecodeError(`invalid statement: ${exc.message}`);
    throw exc;
  }
  return statement;
}

export function getStatementDigest(s: Statement): Uint8Array {
  return sha3_256(concat(STATEMENT_DOMAIN, encodeMsgpack([s.inputLabels, s.offsets, s.rows])));
}

export const getPaddedCount = (s: Statement): number => computePaddedCount(s.inputLabels.length + s.rows.length);

function dot(row: readonly bigint[], inputs: readonly bigint[]): bigint {
  return row.reduce((acc, a, j) => acc + a * inputs[j]!, 0n);
}

/** Inputs shifted by their offsets, then the scenario values. */
export function computeValues(s: Statement, inputs: readonly bigint[]): bigint[] {
  if (inputs.length !== s.inputLabels.length) {
    throw new StatementError(`${inputs.length} inputs for ${s.inputLabels.length} labels`);
  }
  return [...inputs.map((x, j) => x + s.offsets[j]!), ...s.rows.map((row) => dot(row, inputs))];
}

export function describeValue(s: Statement, index: number): string {
  const count = s.inputLabels.length;
  if (index < count) return `input ${reprStr(s.inputLabels[index]!)} + offset ${s.offsets[index]}`;
  return `scenario ${index - count}`;
}

/** Some scenario leaves the account below its requirement; ProverError for an input
 * out of its range (proofs/report.py is_in_default). */
export function isInDefault(s: Statement, inputs: readonly bigint[]): boolean {
  const values = computeValues(s, inputs);
  const count = s.inputLabels.length;
  values.slice(0, count).forEach((v, index) => {
    if (v < 0n || v >= RANGE) throw new ProverError(describeValue(s, index), index, v);
  });
  return values.slice(count).some((v) => v < 0n);
}

/** Equity from the base scenario's row, as [numerator, denominator]. */
export function getEquity(s: Statement, inputs: readonly bigint[]): [bigint, bigint] {
  if (s.inputLabels[0] !== "cash" || s.rows.length === 0) {
    throw new StatementError("equity needs a statement whose first input is cash");
  }
  const row = s.rows[0]!;
  if (row[0] === 0n) throw new StatementError("the base row's cash coefficient is zero");
  return [dot(row, inputs), row[0]!];
}

export function startTranscript(s: Statement, context: Uint8Array, commitments: Uint8Array[]): Transcript {
  const t = new Transcript("clearnode-solvency-v1");
  t.append("context", context);
  t.append("statement", getStatementDigest(s));
  t.append("commitments", concat(...commitments));
  return t;
}

/** Add one account's statement to `check` (DecodeError on malformed data). */
export function addSolvencyCheck(
  check: MsmCheck,
  s: Statement,
  context: Uint8Array,
  commitmentBytes: Uint8Array[],
  commitments: Point[],
  proof: Uint8Array,
): void {
  const count = s.inputLabels.length;
  if (commitments.length !== count || commitmentBytes.length !== count) {
    throw new DecodeError(`${commitments.length} commitments for ${count} inputs`);
  }
  const m = getPaddedCount(s);
  const decoded = decodeProofPoints(decodeRangeProof(proof, m));
  const transcript = startTranscript(s, context, commitmentBytes);
  const v = addRangeCheck(check, transcript, decoded, m);
  // V_j = C_j + offset_j·G for inputs, V_{J+s} = Σ_j A_{s,j}·C_j for scenarios.
  const scenarioV = v.slice(count);
  const coeffs = s.inputLabels.map((_, j) => v[j]! + s.rows.reduce((acc, row, k) => acc + row[j]! * scenarioV[k]!, 0n));
  check.G += s.offsets.reduce((acc, o, j) => acc + v[j]! * o, 0n);
  check.addPoints(commitments, coeffs);
}
