/** A report covers every account under its state root: none left out, none made up
 * (proofs/coverage.py). The state root commits to the list of accounts a report must
 * cover (clearing/transition/reported_accounts.py) and, in the published ledger, to their cash; a
 * report must prove or list in default exactly those accounts, and its accounts' cash
 * must be the cash under the root. */

import { compare, equal, toHex } from "./bytes";
import { decodeError, expectBytes, expectInt, expectList } from "./codec";
import { DecodeError } from "./errors";
import { type PublishedLedger, decodeLedger } from "./ledger";
import { type Value, decodeMsgpack, encodeMsgpack } from "./msgpack";
import { type Report, describeAccount, getTotal } from "./report";
import { CASH_LABEL } from "./statement";
import type { Verdict } from "./verify";

const REPORTED_ACCOUNTS_VERSION = 1n;
const MAX_SUB_ACCOUNT = (1n << 32n) - 1n;

interface AccountKey {
  owner: Uint8Array;
  subaccount: bigint;
}

const compareKeys = (a: AccountKey, b: AccountKey): number =>
  compare(a.owner, b.owner) || (a.subaccount < b.subaccount ? -1 : a.subaccount > b.subaccount ? 1 : 0);
const keyId = (k: AccountKey): string => `${toHex(k.owner)}/${k.subaccount}`;

/** ReportedAccounts.decode: canonical bytes only, strictly sorted by (owner, sub-account). */
export function decodeReportedAccounts(data: Uint8Array): AccountKey[] {
  const [version, keysObj] = expectList(decodeMsgpack(data), "reported accounts", 2);
  if (expectInt(version!, "reported_accounts.version") !== REPORTED_ACCOUNTS_VERSION) {
    throw decodeError("reported_accounts.version", `${String(version)}, expected ${REPORTED_ACCOUNTS_VERSION}`);
  }
  const keys = expectList(keysObj!, "accounts").map((obj): AccountKey => {
    const [owner, sub] = expectList(obj, "account", 2);
    return { owner: expectBytes(owner!, "account.owner", 20), subaccount: expectInt(sub!, "account.sub_account", 0n, MAX_SUB_ACCOUNT) };
  });
  for (let i = 1; i < keys.length; i++) {
    if (compareKeys(keys[i - 1]!, keys[i]!) >= 0) throw decodeError("accounts", "must be strictly sorted by (owner, sub-account)");
  }
  const again: Value = [version!, keys.map((k) => [k.owner, k.subaccount])];
  if (!equal(encodeMsgpack(again), data)) throw decodeError("reported accounts", "not canonical");
  return keys;
}

export function checkCoverage(report: Report): Verdict {
  const verdict: Verdict = { passed: [], failures: [], notChecked: [], unreadable: [] };
  let listed: AccountKey[];
  let ledger: PublishedLedger;
  try {
    listed = decodeReportedAccounts(report.marketProof.reportedAccounts);
    ledger = decodeLedger(report.marketProof.ledger);
  } catch (exc) {
    if (!(exc instanceof DecodeError)) throw exc;
    verdict.failures.push(`the accounts under the state root cannot be read: ${exc.message}`);
    return verdict;
  }
  let failures = compareAccounts(report, listed);
  verdict.failures.push(...failures);
  if (failures.length === 0) {
    verdict.passed.push(
      `the report covers every account under the state root (${listed.length}: ` +
        `${report.accounts.length} proven, ${report.inDefault.length} in default)`,
    );
  }
  failures = compareCash(report, ledger);
  verdict.failures.push(...failures);
  if (failures.length === 0) {
    verdict.passed.push(`the report's accounts hold the cash under the state root (${ledger.reportedCash})`);
  }
  return verdict;
}

function compareAccounts(report: Report, listed: AccountKey[]): string[] {
  const covered = new Map<string, AccountKey>();
  for (const k of [...report.accounts, ...report.inDefault]) covered.set(keyId(k), k);
  const underRoot = new Map(listed.map((k) => [keyId(k), k]));
  const missing = [...underRoot.values()].filter((k) => !covered.has(keyId(k))).sort(compareKeys);
  const extra = [...covered.values()].filter((k) => !underRoot.has(keyId(k))).sort(compareKeys);
  const failures = [
    ...missing.map((k) => `${describeAccount(k.owner, k.subaccount)} is under the state root, not in the report`),
    ...extra.map((k) => `${describeAccount(k.owner, k.subaccount)} is in the report, not under the state root`),
  ];
  if (failures.length > 0) {
    failures.push(`the report covers ${covered.size} accounts, the state root lists ${listed.length}`);
  }
  return failures;
}

function compareCash(report: Report, ledger: PublishedLedger): string[] {
  const total = getTotal(report, CASH_LABEL);
  if (total === null) return ["the report has no cash aggregate to compare with the state root's cash"];
  if (total === ledger.reportedCash) return [];
  return [
    `cash: the report's accounts hold ${total}, the accounts under the state root ` +
      `${ledger.reportedCash} (a difference of ${total - ledger.reportedCash})`,
  ];
}
