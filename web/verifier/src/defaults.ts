/** Accounts in default (field 7) and the epoch's defaults (field 8): the checks and the
 * lines a member reads (proofs/checks.py check_in_default, describe_in_default,
 * check_defaults, describe_defaults). */

import { compare, equal, toHex } from "./bytes";
import { ProverError } from "./errors";
import { StatementError } from "./recompute/errors.js";
import { formatFraction, fraction } from "./recompute/rational.js";
import { DEFAULT_LAYERS, type DefaultRecord, HOUSE_OWNER, type Report, describeAccount } from "./report";
import { getEquity, isInDefault } from "./statement";

/** An account is listed in the clear only if its published inputs fail the statement. */
export function checkInDefault(report: Report): string[] {
  const failures: string[] = [];
  for (const entry of report.inDefault) {
    const name = describeAccount(entry.owner, entry.subaccount);
    let failing: boolean;
    try {
      failing = isInDefault(report.statement, entry.inputs);
    } catch (exc) {
      if (!(exc instanceof ProverError)) throw exc;
      failures.push(`${name} in default: ${exc.message}`);
      continue;
    }
    if (!failing) failures.push(`${name} is listed in default but meets the statement`);
  }
  return failures;
}

export function equityOf(report: Report, inputs: bigint[]): string | null {
  try {
    const [num, den] = getEquity(report.statement, inputs);
    return formatFraction(fraction(num, den));
  } catch (exc) {
    if (exc instanceof StatementError) return null;
    throw exc;
  }
}

/** Each account in default with its equity, and whether the clearing house is whole. */
export function describeInDefault(report: Report): string[] {
  const lines: string[] = [];
  for (const entry of report.inDefault) {
    const equity = equityOf(report, entry.inputs);
    if (equity !== null) {
      lines.push(`${describeAccount(entry.owner, entry.subaccount)} in default, listed in the clear: equity ${equity}`);
    }
  }
  const house = report.inDefault.find((d) => equal(d.owner, HOUSE_OWNER) && d.subaccount === 0n);
  if (house === undefined) {
    lines.push("the clearing house is whole: its account is proven or empty");
    return lines;
  }
  const equity = equityOf(report, house.inputs);
  if (equity === null) return lines;
  if (equity.startsWith("-")) lines.push(`the clearing house is short by ${equity.slice(1)} (an uncovered deficit)`);
  else lines.push(`the clearing house is whole (equity ${equity}) but below its requirement`);
  return lines;
}

function isInDefaultOrder(records: DefaultRecord[]): boolean {
  for (let i = 1; i < records.length; i++) {
    const a = records[i - 1]!;
    const b = records[i]!;
    const c = a.height !== b.height ? (a.height < b.height ? -1 : 1) : compare(a.member, b.member);
    if (c > 0 || (c === 0 && a.subAccount >= b.subAccount)) return false;
  }
  return true;
}

export function describeDefault(r: DefaultRecord): string {
  const layers = DEFAULT_LAYERS.map((name, k) => `${name} ${r.layers[k]}`).join(", ");
  return `member 0x${toHex(r.member)} sub ${r.subAccount} defaulted in block ${r.height} with deficit ${r.deficit}: ${layers}`;
}

/** Each default's layers add up to its deficit; sorted by (height, member, sub-account). */
export function checkDefaults(records: DefaultRecord[]): string[] {
  const failures = isInDefaultOrder(records) ? [] : ["defaults are not strictly sorted"];
  for (const r of records) {
    const total = r.layers.reduce((a, b) => a + b, 0n);
    if (total !== r.deficit) failures.push(`${describeDefault(r)}: the layers add up to ${total}, not the deficit`);
  }
  return failures;
}

export function describeDefaults(records: DefaultRecord[]): string[] {
  return records.length === 0 ? ["no sub-account defaulted this epoch"] : records.map(describeDefault);
}
