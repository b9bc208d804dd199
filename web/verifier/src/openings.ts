/** A member's openings of its own commitments, checked (proofs/openings.py): the
 * commitments open to them, every sub-account of the member in the report is covered,
 * and each scenario value is explained in plain words. */

import { type AccountProofFile, readAccountProof } from "./account";
import { equal, fromHex, toHex } from "./bytes";
import { DecodeError } from "./errors";
import type { Generators } from "./generators";
import { R, encodePoint } from "./group";
import { reprStr } from "./recompute/pyrepr.js";
import { type Report, describeAccount } from "./report";
import { POSITION_PREFIX, type Statement, computeValues } from "./statement";
import type { Verdict } from "./verify";

const OPENINGS_VERSION = 1n;

export interface AccountOpening {
  subaccount: bigint;
  values: bigint[];
  blindings: bigint[];
}

export interface MemberOpenings {
  epoch: bigint;
  owner: Uint8Array;
  labels: string[];
  accounts: AccountOpening[];
  /** The account record and its inclusion proof under the report's root, if given. */
  accountProof: AccountProofFile | null;
}

function toInt(v: unknown, what: string): bigint {
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === "bigint") return v;
  if (typeof v === "string" && /^-?\d+$/.test(v.trim())) return BigInt(v.trim());
  throw new DecodeError(`malformed openings: ${what} ${String(v)} is not an integer`);
}

/** The openings JSON `POST /v1/reports/{epoch}/openings` answers. */
export function readOpenings(obj: unknown): MemberOpenings {
  const o = (obj ?? {}) as Record<string, unknown>;
  const version = typeof o["version"] === "number" || typeof o["version"] === "bigint" ? BigInt(o["version"]) : null;
  if (version !== OPENINGS_VERSION) throw new DecodeError(`unsupported openings version ${String(o["version"])}`);
  const labels = o["labels"];
  const accounts = o["accounts"];
  if (typeof o["member"] !== "string" || !Array.isArray(labels) || !Array.isArray(accounts)) {
    throw new DecodeError("malformed openings: member, labels and accounts are required");
  }
  const owner = fromHex(o["member"]);
  const opened = accounts.map((a: unknown): AccountOpening => {
    const e = (a ?? {}) as Record<string, unknown>;
    const values = e["values"];
    const blindings = e["blindings"];
    if (!Array.isArray(values) || !Array.isArray(blindings)) throw new DecodeError("malformed openings: values and blindings are lists");
    return {
      subaccount: toInt(e["subaccount"], "subaccount"),
      values: values.map((v) => toInt(v, "value")),
      blindings: blindings.map((b) => {
        if (typeof b !== "string") throw new DecodeError("malformed openings: a blinding is not hex");
        return BigInt("0x" + toHex(fromHex(b))) % R;
      }),
    };
  });
  for (const a of opened) {
    if (a.values.length !== labels.length || a.blindings.length !== labels.length) {
      throw new DecodeError(`sub-account ${a.subaccount}: not one opening per label`);
    }
  }
  const given = o["accountProof"];
  let accountProof: AccountProofFile | null = null;
  try {
    accountProof = given === undefined || given === null ? null : readAccountProof(given);
  } catch (exc) {
    if (exc instanceof DecodeError) throw new DecodeError(`malformed openings: accountProof: ${exc.message}`);
    throw exc;
  }
  return { epoch: toInt(o["epoch"], "epoch"), owner, labels: labels.map(String), accounts: opened, accountProof };
}

const pyList = (xs: bigint[]): string => `[${xs.join(", ")}]`;

/** `scaled / kDen` in the settlement asset's base units, exactly. */
function units(scaled: bigint, kDen: bigint): string {
  return scaled % kDen === 0n ? String(scaled / kDen) : `${scaled}/${kDen}`;
}

/** Each scenario value in plain words, when the rows have the solvency form's shape. */
export function explainScenarios(statement: Statement, values: bigint[], names?: readonly string[]): string[] {
  const labels = statement.inputLabels;
  const head = labels.flatMap((label, j) => (label.startsWith(POSITION_PREFIX) ? [] : [j]));
  if (statement.rows.length === 0 || labels[0] !== "cash") return [];
  const first = statement.rows[0]!;
  const kDen = first[0]!;
  if (kDen <= 0n || statement.rows.some((row) => head.some((j) => row[j] !== first[j]))) return [];
  const equity = head.reduce((acc, j) => acc + first[j]! * values[j]!, 0n);
  const lines = [
    `equity (cash plus collateral at its haircut value) ${units(equity, kDen)}; ` +
      "per scenario, the charge (the maintenance fraction of the loss that move would " +
      "cause your positions) and what your equity keeps above it (never below 0 in a valid report):",
  ];
  statement.rows.forEach((row, s) => {
    const value = row.reduce((acc, c, j) => acc + c * values[j]!, 0n);
    const name = names !== undefined && s < names.length ? names[s]! : `scenario ${s}`;
    lines.push(`  ${name}: charge ${units(equity - value, kDen)}, left ${units(value, kDen)}`);
  });
  return lines;
}

/** Commitments open to the openings; every sub-account of the member is covered. */
export function verifyMemberOpenings(
  gens: Generators,
  report: Report,
  member: Uint8Array,
  openings: MemberOpenings,
  names?: readonly string[],
): Verdict {
  const verdict: Verdict = { passed: [], failures: [], notChecked: [], unreadable: [] };
  const statement = report.statement;
  if (!equal(openings.owner, member) || openings.epoch !== report.epoch) {
    verdict.failures.push(
      `openings are for 0x${toHex(openings.owner)} epoch ${openings.epoch}, not 0x${toHex(member)} epoch ${report.epoch}`,
    );
    return verdict;
  }
  if (openings.labels.length !== statement.inputLabels.length || openings.labels.some((l, j) => l !== statement.inputLabels[j])) {
    verdict.failures.push("openings' labels differ from the report's statement");
    return verdict;
  }
  const sortedSubs = (xs: bigint[]): bigint[] => [...new Set(xs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const inReport = sortedSubs(report.accounts.filter((a) => equal(a.owner, member)).map((a) => a.subaccount));
  const opened = sortedSubs(openings.accounts.map((a) => a.subaccount));
  if (pyList(inReport) !== pyList(opened)) {
    verdict.failures.push(`report has sub-accounts ${pyList(inReport)}, openings cover ${pyList(opened)}`);
  }
  for (const opening of openings.accounts) {
    const entry = report.accounts.find((a) => equal(a.owner, member) && a.subaccount === opening.subaccount);
    if (entry === undefined) continue;
    const name = describeAccount(entry.owner, entry.subaccount);
    statement.inputLabels.forEach((label, j) => {
      const v = opening.values[j]!;
      if (!equal(entry.commitments[j]!, encodePoint(gens.commit(v, opening.blindings[j]!)))) {
        verdict.failures.push(`${name}: commitment to ${reprStr(label)} does not open to ${v}`);
      }
    });
    const scenario = computeValues(statement, opening.values).slice(statement.inputLabels.length);
    verdict.passed.push(`${name}: opened; scenario values ${pyList(scenario)}`);
    verdict.passed.push(...explainScenarios(statement, opening.values, names).map((line) => `${name}: ${line}`));
    if (scenario.some((v) => v < 0n)) verdict.failures.push(`${name}: a scenario value is negative: ${pyList(scenario)}`);
  }
  return verdict;
}
