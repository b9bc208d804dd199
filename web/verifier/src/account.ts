/** A member's openings checked against its own account under the report's state root
 * (proofs/member_account.py, proofs/account_proof.py, clearing/transition/root.py and the account
 * record of clearing/transition/snapshot.py): the record hashed up its Merkle path gives the root,
 * and every value opened is what the record holds under that label. */

import { sha256 } from "@noble/hashes/sha2.js";
import { concat, equal, fromHex, toHex } from "./bytes";
import { MAX_UINT64, expectBytes, expectInt, expectList, expectStr } from "./codec";
import { DecodeError } from "./errors";
import { type Value, decodeMsgpack } from "./msgpack";
import type { MemberOpenings } from "./openings";
import { reprStr } from "./recompute/pyrepr.js";
import type { Report } from "./report";
import type { Verdict } from "./verify";

const ACCOUNT_VERSION = 3n;
const PROOF_VERSION = 1n;
const MIN_INT64 = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** The answer of POST /v1/accounts/proof, as the openings carry it (`accountProof`). */
export interface AccountProofFile {
  chainId: bigint;
  member: Uint8Array;
  height: bigint;
  stateRoot: Uint8Array;
  account: Uint8Array;
  steps: [boolean, Uint8Array][];
  globalsHash: Uint8Array;
}

/** What the statement reads of one sub-account: its holdings by solvency label. */
export type Holdings = Map<string, bigint>;

function hexField(value: unknown, length?: number): Uint8Array {
  if (typeof value !== "string" || !value.startsWith("0x")) throw new DecodeError(`${String(value)} is not 0x-hex`);
  const raw = fromHex(value);
  if (length !== undefined && raw.length !== length) throw new DecodeError(`${value} is not ${length} bytes`);
  return raw;
}

function intField(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  throw new DecodeError(`${String(value)} is not an integer`);
}

/** AccountProofFile.from_object; DecodeError("not an account proof: ..."). */
export function readAccountProof(obj: unknown): AccountProofFile {
  try {
    const o = (obj ?? {}) as Record<string, unknown>;
    const proof = expectList(decodeMsgpack(hexField(o["proof"])), "AccountProof", 3);
    if (proof[0] !== PROOF_VERSION) throw new DecodeError(`AccountProof version is not ${PROOF_VERSION}`);
    const steps = expectList(proof[1]!, "steps").map((step): [boolean, Uint8Array] => {
      const [left, sibling] = expectList(step, "step", 2);
      if (typeof left !== "boolean") throw new DecodeError("step: sibling side must be a bool");
      return [left, expectBytes(sibling!, "sibling", 32)];
    });
    return {
      chainId: intField(o["chainId"]),
      member: hexField(o["member"], 20),
      height: intField(o["height"]),
      stateRoot: hexField(o["stateRoot"], 32),
      account: hexField(o["account"]),
      steps,
      globalsHash: expectBytes(proof[2]!, "globals_hash", 32),
    };
  } catch (exc) {
    if (exc instanceof DecodeError) throw new DecodeError(`not an account proof: ${exc.message}`);
    throw exc;
  }
}

const hashLeaf = (key: Uint8Array, value: Uint8Array): Uint8Array => sha256(concat(Uint8Array.of(0), key, value));
const hashNode = (left: Uint8Array, right: Uint8Array): Uint8Array => sha256(concat(Uint8Array.of(1), left, right));

/** The accounts root `account` of `member` gives up `steps` (clearing.merkle.compute_root_from_proof). */
export function computeAccountsRoot(member: Uint8Array, account: Uint8Array, steps: [boolean, Uint8Array][]): Uint8Array {
  let node = hashLeaf(member, account);
  for (const [siblingIsLeft, sibling] of steps) node = siblingIsLeft ? hashNode(sibling, node) : hashNode(node, sibling);
  return node;
}

/** The root `found` proves its account under (clearing.transition.root.verify_account_proof). */
function computeProvenRoot(found: AccountProofFile): Uint8Array {
  const accountsRoot = computeAccountsRoot(found.member, found.account, found.steps);
  // clearing.transition.root.compute_root
  return sha256(concat(Uint8Array.of(3), accountsRoot, found.globalsHash));
}

const signedInt = (v: Value, what: string): bigint => expectInt(v, what, MIN_INT64, INT64_MAX);

/** The address of an account record (decode_member's `member`). */
export function readAccountOwner(account: Uint8Array): Uint8Array {
  const f = expectList(decodeMsgpack(account), "account");
  if (f.length === 0 || f[0] !== ACCOUNT_VERSION) throw new DecodeError(`account version is not ${ACCOUNT_VERSION}`);
  return expectBytes(expectList(f, "account", 9)[1]!, "member", 20);
}

/** Each reported sub-account's holdings by label (decode_member, get_labelled_holdings,
 * is_reported: a sub-account holding nothing and no position is not reported). */
export function readHoldings(account: Uint8Array): Map<bigint, Holdings> {
  const f = expectList(decodeMsgpack(account), "account");
  if (f.length === 0 || f[0] !== ACCOUNT_VERSION) throw new DecodeError(`account version is not ${ACCOUNT_VERSION}`);
  expectList(f, "account", 9);
  const subs = new Map<bigint, Holdings>();
  for (const sub of expectList(f[2]!, "sub_accounts")) {
    const [subId, cash, collateral, positions] = expectList(sub, "sub_account", 5);
    const holdings: Holdings = new Map();
    const cashValue = signedInt(cash!, "cash");
    let reported = cashValue !== 0n;
    if (cashValue !== 0n) holdings.set("cash", cashValue);
    for (const item of expectList(collateral!, "collateral")) {
      const [chain, token, quanta] = expectList(item, "collateral", 3);
      const q = expectInt(quanta!, "quanta");
      const label = `collateral:${expectInt(chain!, "chain_id")}:0x${toHex(expectBytes(token!, "token", 20))}`;
      reported = true;
      if (q !== 0n) holdings.set(label, q);
    }
    for (const item of expectList(positions!, "positions")) {
      const p = expectList(item, "position", 6);
      const quantity = signedInt(p[1]!, "position");
      reported = true;
      if (quantity !== 0n) holdings.set(`position:${expectStr(p[0]!, "instrument")}`, quantity);
    }
    const id = expectInt(subId!, "sub_account", 0n, MAX_UINT64);
    if (reported) subs.set(id, holdings);
  }
  return subs;
}

/** Each way `values` (by `labels`) differ from a sub-account's holdings (consumed):
 * compare_holdings, for a member's openings and an account in default alike. */
export function compareHoldings(labels: readonly string[], values: bigint[], holdings: Holdings, verb: string): string[] {
  const wrong: string[] = [];
  labels.forEach((label, j) => {
    const held = holdings.get(label) ?? 0n;
    holdings.delete(label);
    if (values[j] !== held) wrong.push(`${reprStr(label)} ${verb} ${values[j]}, the account holds ${held}`);
  });
  for (const [label, q] of holdings) wrong.push(`it holds ${q} of ${reprStr(label)}, not in the statement`);
  return wrong;
}

/** check_member_account: the openings against the member's record under the root. */
export function checkMemberAccount(report: Report, openings: MemberOpenings): Verdict {
  const verdict: Verdict = { passed: [], failures: [], notChecked: [], unreadable: [] };
  const found = openings.accountProof;
  const height = report.height;
  const owner = `0x${toHex(openings.owner)}`;
  if (found === null) {
    verdict.notChecked.push(
      "your openings not compared with your account: they carry no account proof " +
        "(a validator's POST /v1/reports/{epoch}/openings adds it)",
    );
    return verdict;
  }
  if (!equal(found.member, openings.owner)) {
    verdict.failures.push(`the account proof is of 0x${toHex(found.member)}, not ${owner}`);
    return verdict;
  }
  const notProven = (why: string): Verdict => {
    verdict.failures.push(`your account is not proven under the report's root: ${why}`);
    return verdict;
  };
  if (found.height !== height) return notProven(`the proof is for height ${found.height}, not the expected ${height}`);
  if (!equal(found.stateRoot, report.stateRoot)) {
    return notProven(`the proof is against root 0x${toHex(found.stateRoot)}, not 0x${toHex(report.stateRoot)}`);
  }
  if (!equal(computeProvenRoot(found), report.stateRoot)) {
    return notProven(`the account of ${owner} is not the one under 0x${toHex(report.stateRoot)}`);
  }
  let subs: Map<bigint, Holdings>;
  try {
    subs = readHoldings(found.account);
  } catch (exc) {
    if (exc instanceof DecodeError) return notProven(`the proven account does not decode: ${exc.message}`);
    throw exc;
  }
  verdict.passed.push(`your account record is under the report's state root at height ${height}`);
  const opened = new Map(openings.accounts.map((a) => [a.subaccount, a.values]));
  for (const [sub, holdings] of [...subs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const name = `account ${owner}/${sub}`;
    const values = opened.get(sub);
    opened.delete(sub);
    if (values === undefined) {
      verdict.failures.push(`${name} holds funds or positions, but is not opened`);
      continue;
    }
    const wrong = compareHoldings(openings.labels, values, holdings, "opens to");
    if (wrong.length) verdict.failures.push(`${name}: ${wrong.join("; ")}`);
    else verdict.passed.push(`${name}: the opened values are the account's holdings`);
  }
  for (const sub of [...opened.keys()].sort((a, b) => (a < b ? -1 : 1))) {
    verdict.failures.push(`account ${owner}/${sub} is opened but holds nothing under the root`);
  }
  return verdict;
}
