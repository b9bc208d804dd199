/** What a report publishes in the clear, checked against the state root
 * (proofs/disclosed.py): the defaults it lists are the published ledger's
 * (clearing/published_ledger.py), and each account in default is recomputed from its
 * owner's account record under the market proof's accounts root (the clearing house's
 * cash with the ledger's insurance fund added, as the prover adds it). */

import { equal, toHex } from "./bytes";
import { DecodeError } from "./errors";
import { type Holdings, compareHoldings, computeAccountsRoot, readAccountOwner, readHoldings } from "./account";
import { describeDefault } from "./defaults";
import { type PublishedLedger, decodeLedger, defaultKey } from "./ledger";
import { type DefaultAccount, type DefaultRecord, HOUSE_OWNER, type Report, describeAccount } from "./report";
import type { Verdict } from "./verify";

export function checkDisclosed(report: Report): Verdict {
  const verdict: Verdict = { passed: [], failures: [], notChecked: [], unreadable: [] };
  let ledger: PublishedLedger;
  try {
    ledger = decodeLedger(report.marketProof.ledger);
  } catch (exc) {
    if (!(exc instanceof DecodeError)) throw exc;
    verdict.failures.push(`the published ledger does not decode: ${exc.message}`);
    return verdict;
  }
  verdict.failures.push(...compareDefaults(report, ledger));
  if (verdict.failures.length === 0) {
    verdict.passed.push(`the ${report.defaults.length} defaults listed are the ones committed under the state root`);
  }
  const failures = checkInDefaultAccounts(report, ledger);
  verdict.failures.push(...failures);
  if (failures.length === 0 && report.inDefault.length > 0) {
    verdict.passed.push(
      `the ${report.inDefault.length} accounts in default are recomputed from their owners' account records under the state root`,
    );
  }
  return verdict;
}

function compareDefaults(report: Report, ledger: PublishedLedger): string[] {
  const same = (a: DefaultRecord, b: DefaultRecord): boolean =>
    defaultKey(a) === defaultKey(b) && a.deficit === b.deficit && a.layers.every((v, k) => v === b.layers[k]);
  return [
    ...report.defaults
      .filter((r) => !ledger.defaults.some((c) => same(r, c)))
      .map((r) => `${describeDefault(r)}: not committed under the state root`),
    ...ledger.defaults
      .filter((c) => !report.defaults.some((r) => same(r, c)))
      .map((r) => `${describeDefault(r)}: committed under the state root, not listed`),
  ];
}

/** The owner's reported sub-accounts, or why its record is not the one under the root. */
function readMember(report: Report, record: DefaultAccount): Map<bigint, Holdings> | string {
  const root = report.marketProof.accountsRoot;
  if (!equal(computeAccountsRoot(record.owner, record.account, record.steps), root)) {
    return `its owner's account record is not under the accounts root 0x${toHex(root)}`;
  }
  try {
    const owner = readAccountOwner(record.account);
    if (!equal(owner, record.owner)) return `the account record under the root is of 0x${toHex(owner)}`;
    return readHoldings(record.account);
  } catch (exc) {
    if (!(exc instanceof DecodeError)) throw exc;
    return `its owner's account record does not decode: ${exc.message}`;
  }
}

function checkInDefaultAccounts(report: Report, ledger: PublishedLedger): string[] {
  const owners = new Set(report.inDefault.map((d) => toHex(d.owner)));
  const failures = report.defaultAccounts
    .filter((a) => !owners.has(toHex(a.owner)))
    .map((a) => `the report carries the account of 0x${toHex(a.owner)}, which has no account in default`);
  const members = new Map<string, Map<bigint, Holdings> | string>();
  for (const a of report.defaultAccounts) if (owners.has(toHex(a.owner))) members.set(toHex(a.owner), readMember(report, a));
  for (const entry of report.inDefault) {
    const name = `${describeAccount(entry.owner, entry.subaccount)} in default`;
    const member = members.get(toHex(entry.owner));
    if (member === undefined) {
      failures.push(`${name}: the report carries no account record of its owner`);
      continue;
    }
    if (typeof member === "string") {
      failures.push(`${name}: ${member}`);
      continue;
    }
    const found = member.get(entry.subaccount);
    if (found === undefined) {
      failures.push(`${name}: its owner's account under the state root has no such sub-account`);
      continue;
    }
    const holdings: Holdings = new Map(found);
    if (equal(entry.owner, HOUSE_OWNER) && entry.subaccount === 0n) {
      // the prover adds the insurance fund to the house's cash
      const cash = (holdings.get("cash") ?? 0n) + ledger.insuranceFund;
      holdings.delete("cash");
      if (cash !== 0n) holdings.set("cash", cash);
    }
    const wrong = compareHoldings(report.statement.inputLabels, entry.inputs, holdings, "is published as");
    if (wrong.length) failures.push(`${name}: ${wrong.join("; ")}`);
  }
  return failures;
}
